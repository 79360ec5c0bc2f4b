package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

// fuzzConfig uses every kind of source and transform, so that arbitrary records reach them.
var fuzzConfig = Config{
	IncidentID: Source{Expr: `coalesce(IncidentNumber, $env["$id"], Id, "none")`, MaxLength: 64},
	UserID:     map[string]any{"template": "{{.CallTaker}}", "trim": true},
	Filter:     `Status != "CLOSED"`,
	Timezone:   "America/Chicago",
	Fields: []Field{
		{Name: "Path", From: "Nature.Code", Lookup: map[string]string{"1": "High"}, Default: "-"},
		{Name: "Attr", From: "Location.Address.@type", OmitEmpty: true},
		{Name: "Text", From: "Remarks.#text", Trim: true, MaxLength: 20},
		{Name: "Digits", Expr: `digits(str(Phone))`},
		{Name: "Time", Expr: `format_time(parse_time(str(Opened)) ?? nil)`},
		{Name: "Sub", Expr: `substr(str(Remarks), 2, 5)`},
		{Name: "Extract", Expr: `extract(str(Remarks), "(\\w+)")`},
		{Name: "Join", Expr: `join(Units ?? [], ",")`},
		{Name: "XML", Expr: `xml(str(Pidf))?.device`},
		{Name: "Tmpl", Template: `{{.Loc}}/{{json .Units}}`},
		{Name: "Const", Value: "x"},
	},
}

// exampleRecords returns the JSON sample records of ../examples (the seeds).
func exampleRecords(t testing.TB) [][]byte {
	files, _ := filepath.Glob("../examples/*/record.json")
	files = append(files, "testdata/rest_record.json", "testdata/sample.json")
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// FuzzMap: arbitrary JSON records must never make Map (or Explain) panic.
func FuzzMap(f *testing.F) {
	for _, b := range exampleRecords(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"IncidentNumber": 1, "Opened": "2026-01-01 00:00:00", "Pidf": "<a><device>x</device></a>", "Remarks": "héllo wörld"}`))
	f.Add([]byte(`{"Id": [1, {"a": null}], "Units": "notalist", "Loc": {"x": 1e400}}`))
	m, probs := Compile(fuzzConfig)
	if len(probs) > 0 {
		f.Fatal(probs)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var rec adapters.Record
		if dec.Decode(&rec) != nil || rec == nil {
			return
		}
		res, err := m.Map(rec)
		if err == nil && !res.Filtered && ident.Check("incident_id", res.Request.IncidentID) != nil {
			t.Fatalf("mapped with an incident id that is not an id: %q", res.Request.IncidentID)
		}
		_, _ = m.Explain(rec)
		_ = Hash(res.Request)
	})
}

// FuzzSplit: every part fits, and the parts put back together are the text (modulo white
// space and the part markers).
func FuzzSplit(f *testing.F) {
	f.Add("one two three four five six seven", 20)
	f.Add(strings.Repeat("x", 100), 16)
	f.Add("Ünïcödé   \n\t words "+strings.Repeat("long ", 40), 17)
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		if maxLen < 0 {
			maxLen = -maxLen
		}
		maxLen = MinNoteMaxLength + maxLen%300
		if len(text) > 1<<14 || !utf8.ValidString(text) {
			return
		}
		parts := SplitNote(text, maxLen)
		if len(parts) == 1 && parts[0] == text {
			if utf8.RuneCountInString(text) > maxLen {
				t.Fatalf("unsplit text longer than %d", maxLen)
			}
			return
		}
		var b strings.Builder
		for i, p := range parts {
			if n := utf8.RuneCountInString(p); n > maxLen {
				t.Fatalf("part %d has %d runes > %d: %q", i, n, maxLen, p)
			}
			suffix := " (" + itoa(i+1) + "/" + itoa(len(parts)) + ")"
			body, ok := strings.CutSuffix(p, suffix)
			if !ok {
				t.Fatalf("part %d %q lacks %q", i, p, suffix)
			}
			b.WriteString(body)
		}
		if strip(b.String()) != strip(text) {
			t.Fatalf("parts %q do not make up %q", parts, text)
		}
	})
}

func strip(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// FuzzSplitFramed: every framed part fits, starts with its prefix, ends with the suffix
// and its marker, and the bodies make up the text.
func FuzzSplitFramed(f *testing.F) {
	f.Add("[Assist CRITICAL] ", "[Assist cont.] ", " //CAD", "one two three four five six seven", 40)
	f.Add("", "", "", strings.Repeat("x", 100), 16)
	f.Add("«é» ", "", "", "Ünïcödé   \n\t words "+strings.Repeat("long ", 40), 30)
	f.Fuzz(func(t *testing.T, first, rest, suffix, body string, maxLen int) {
		if maxLen < 0 {
			maxLen = -maxLen
		}
		maxLen = MinNoteMaxLength + maxLen%300
		for _, s := range []string{first, rest, suffix, body} {
			if len(s) > 1<<12 || !utf8.ValidString(s) {
				return
			}
		}
		if rest == "" {
			rest = first
		}
		parts := splitFramed(first, rest, body, suffix, maxLen)
		if parts == nil {
			return // the frame leaves no room: the caller splits the whole text
		}
		var b strings.Builder
		for i, p := range parts {
			if n := utf8.RuneCountInString(p); n > maxLen {
				t.Fatalf("part %d has %d runes > %d: %q", i, n, maxLen, p)
			}
			pre := rest
			if i == 0 {
				pre = first
			}
			mid, ok := strings.CutPrefix(p, pre)
			if !ok {
				t.Fatalf("part %d %q lacks prefix %q", i, p, pre)
			}
			mid, ok = strings.CutSuffix(mid, suffix+" ("+itoa(i+1)+"/"+itoa(len(parts))+")")
			if !ok {
				t.Fatalf("part %d %q lacks suffix and marker", i, p)
			}
			b.WriteString(mid)
		}
		if strip(b.String()) != strip(body) {
			t.Fatalf("parts %q do not make up %q", parts, body)
		}
	})
}
