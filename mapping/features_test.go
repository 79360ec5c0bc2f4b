package mapping

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

func TestSourcesAndHelpers(t *testing.T) {
	const rec = `{"IncidentNumber": 260045123, "Opened": "2026-03-01 14:05:00", "OpenedZ": "2026-03-01T14:05:00-05:00",
		"US": "03/01/2026 14:05:00", "Compact": "20260301140500", "Remarks": "  Unit E12 enroute; callback 217-555-0142  ",
		"Name": "Ünïcödé Street", "Loc": {"Number": 1200, "Street": "Main St"}, "Empty": "",
		"Pidf": "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><device><civicAddress><A3>Wilmington</A3><HNO>42</HNO></civicAddress></device></presence>"}`
	tests := []struct {
		name  string
		field Field
		want  string
	}{
		{"template", Field{Template: `{{.Loc.Number}} {{.Loc.Street}}`}, "1200 Main St"},
		{"template missing key is empty", Field{Template: `[{{.Nope}}][{{.Loc.Nope}}]`}, "[][]"},
		{"template json helper", Field{Template: `{{json .Loc.Street}}`}, `"Main St"`},
		{"parse_time zoneless in timezone", Field{Expr: `format_time(parse_time(Opened))`}, "2026-03-01T19:05:00Z"},
		{"parse_time with zone", Field{Expr: `format_time(parse_time(OpenedZ))`}, "2026-03-01T19:05:00Z"},
		{"parse_time US", Field{Expr: `format_time(parse_time(US))`}, "2026-03-01T19:05:00Z"},
		{"parse_time compact", Field{Expr: `format_time(parse_time(Compact))`}, "2026-03-01T19:05:00Z"},
		{"parse_time layout", Field{Expr: `format_time(parse_time("1.3.2026 14:05", "2.1.2006 15:04"))`}, "2026-03-01T19:05:00Z"},
		{"format_time layout and zone", Field{Expr: `format_time(Opened, "15:04 MST", "Europe/Berlin")`}, "20:05 CET"},
		{"format_time zone only", Field{Expr: `format_time(Opened, "", "America/Chicago")`}, "2026-03-01T13:05:00-06:00"},
		{"format_time of missing", Field{Expr: `format_time(parse_time(Nope))`, Default: "none"}, "none"},
		{"substr", Field{Expr: `substr(Name, 0, 7)`}, "Ünïcödé"},
		{"substr negative start", Field{Expr: `substr(Name, -6)`}, "Street"},
		{"substr clamped", Field{Expr: `substr(Name, 10, 100)`}, "reet"},
		{"substr beyond", Field{Expr: `substr(Name, 100)`}, ""},
		{"extract group 1 by default", Field{Expr: `extract(Remarks, "Unit (\\w+)")`}, "E12"},
		{"extract whole match", Field{Expr: `extract(Remarks, "\\d{3}-\\d{3}-\\d{4}")`}, "217-555-0142"},
		{"extract group", Field{Expr: `extract(Remarks, "(\\d{3})-(\\d{3})", 2)`}, "555"},
		{"extract no match", Field{Expr: `extract(Remarks, "Engine (\\d+)")`, Default: "-"}, "-"},
		{"builtins upper lower trim", Field{Expr: `upper(trim(Remarks))[0:4] + lower("XY")`}, "UNITxy"},
		{"xml", Field{Expr: `xml(Pidf).device.civicAddress.A3`}, "Wilmington"},
		{"xml of empty", Field{Expr: `xml(Empty)?.device ?? "none"`}, "none"},
		{"transforms in order", Field{From: "Remarks", Trim: true, MaxLength: 4}, "Unit"},
		{"max_length counts runes", Field{From: "Name", MaxLength: 3}, "Ünï"},
		{"lookup then trim", Field{Value: "a", Lookup: map[string]string{"a": "  Alpha  "}, Trim: true}, "Alpha"},
		{"default then max_length", Field{From: "Empty", Default: "Default", MaxLength: 3}, "Def"},
	}
	r := decodeRecord(t, []byte(rec))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.field.Name = "F"
			c := base(tc.field)
			c.Timezone = "America/New_York"
			m := mustCompile(t, c)
			res, err := m.Map(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Request.Fields[0].Value; got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestXMLRecordPaths(t *testing.T) {
	rec, err := record.ParseXMLString(`<Incident><Id>42</Id><Location><Address type="street">1200 Main St</Address></Location><Remarks>smoke</Remarks></Incident>`)
	if err != nil {
		t.Fatal(err)
	}
	m := mustCompile(t, Config{IncidentID: "Id", Fields: []Field{
		{Name: "Type", From: "Location.Address.@type"},
		{Name: "Address", From: "Location.Address.#text"},
		{Name: "Remarks", From: "Remarks.#text"},
	}})
	res, err := m.Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Request.Fields {
		got = append(got, f.Value)
	}
	if want := []string{"street", "1200 Main St", "smoke"}; !reflect.DeepEqual(got, want) {
		t.Errorf("values = %q, want %q", got, want)
	}
}

func TestRequiredAndOmitEmpty(t *testing.T) {
	r := decodeRecord(t, []byte(`{"IncidentNumber": 1, "A": "a", "Blank": "   "}`))
	m := mustCompile(t, base(Field{Name: "A", From: "A"}, Field{Name: "Gone", From: "Nope", OmitEmpty: true},
		Field{Name: "Blank", From: "Blank", Trim: true, OmitEmpty: true}, Field{Name: "Z", Value: "z"}))
	res, err := m.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Request.Fields) != 2 || res.Request.Fields[0].Name != "A" || res.Request.Fields[1].Name != "Z" {
		t.Errorf("fields = %+v", res.Request.Fields)
	}
	m = mustCompile(t, base(Field{Name: "A", From: "A"}, Field{Name: "Street", From: "Blank", Trim: true, Required: true}))
	_, err = m.Map(r)
	var me *Error
	if !errors.As(err, &me) || me.Key != "fields[1]" || me.Field != "Street" || !strings.Contains(err.Error(), "is required but empty") {
		t.Errorf("err = %v", err)
	}
}

func TestIDSources(t *testing.T) {
	r := decodeRecord(t, []byte(`{"Agency": "SPD", "No": 42, "Taker": " ct7 ", "Empty": ""}`))
	tests := []struct {
		name       string
		id, user   any
		wantID     string
		wantUser   string
		wantErrKey string
	}{
		{"path string", "No", "Taker", "42", " ct7 ", ""},
		{"map from config", map[string]any{"expr": `Agency + "-" + str(No)`}, map[string]any{"from": "Taker", "trim": "true"}, "SPD-42", "ct7", ""},
		{"Source value", Source{Template: "{{.Agency}}/{{.No}}"}, &Source{Value: "fixed"}, "SPD/42", "fixed", ""},
		{"lookup on id", Source{From: "Agency", Lookup: map[string]string{"SPD": "Springfield"}}, nil, "Springfield", "", ""},
		{"empty expr id", Source{Expr: `Empty`}, nil, "", "", "incident_id"},
		{"missing required user", "No", Source{From: "Nope", Required: true}, "", "", "user_id"},
		{"missing id with default", Source{From: "Nope", Default: "X"}, nil, "X", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, Config{IncidentID: tc.id, UserID: tc.user})
			res, err := m.Map(r)
			if tc.wantErrKey != "" {
				var me *Error
				if !errors.As(err, &me) || me.Key != tc.wantErrKey {
					t.Fatalf("err = %v, want key %s", err, tc.wantErrKey)
				}
				return
			}
			if err != nil || res.Request.IncidentID != tc.wantID || res.Request.UserID != tc.wantUser {
				t.Fatalf("Map = %q %q %v; want %q %q", res.Request.IncidentID, res.Request.UserID, err, tc.wantID, tc.wantUser)
			}
			if id, ok := m.IncidentID(r); !ok || id != tc.wantID {
				t.Errorf("IncidentID = %q %v", id, ok)
			}
		})
	}
}

func TestNormalizeShorthand(t *testing.T) {
	raw := map[string]any{"incident_id": "No", "user_id": map[string]any{"expr": "X"}, "filter": "F"}
	NormalizeShorthand(raw)
	want := map[string]any{"incident_id": map[string]any{"from": "No"}, "user_id": map[string]any{"expr": "X"}, "filter": "F"}
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("raw = %v", raw)
	}
	NormalizeShorthand(nil)
}

func TestCompileNewProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"IncidentNumber": 1, "Address": "x", "Loc": {"Street": "y"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Config
		key  string
		msg  string
	}{
		{"bad timezone", Config{IncidentID: "I", Timezone: "Mars/Base"}, "timezone", `unknown time zone "Mars/Base"`},
		{"bad note timezone", Config{IncidentID: "I", Note: NoteConfig{Timezone: "Nope"}}, "note.timezone", `unknown time zone "Nope"`},
		{"invalid regex literal", base(Field{Name: "F", Expr: `extract(X, "(")`}), "fields[0].expr", `invalid regular expression "("`},
		{"regex group out of range", base(Field{Name: "F", Expr: `extract(X, "(a)", 3)`}), "fields[0].expr", `has no group 3`},
		{"bad template", base(Field{Name: "F", Template: `{{.X`}), "fields[0].template", `cannot parse "{{.X"`},
		{"incident_id expr", Config{IncidentID: map[string]any{"expr": "A +"}}, "incident_id.expr", `cannot compile "A +"`},
		{"incident_id unknown key", Config{IncidentID: map[string]any{"frm": "A"}}, "incident_id.frm", `unknown key (did you mean "from"?)`},
		{"incident_id two sources", Config{IncidentID: Source{From: "A", Value: "B"}}, "incident_id", `exactly one of`},
		{"incident_id wrong type", Config{IncidentID: 12}, "incident_id", `expected a path or a section`},
		{"omit_empty on id", Config{IncidentID: Source{From: "A", OmitEmpty: true}}, "incident_id.omit_empty", `only for fields`},
		{"negative max_length", base(Field{Name: "F", From: "A", MaxLength: -1}), "fields[0].max_length", `must be 0`},
		{"note max_length too small", Config{IncidentID: "I", Note: NoteConfig{MaxLength: 5}}, "note.max_length", `at least 16`},
		{"call status typo", Config{IncidentID: "I", Note: NoteConfig{CallStatus: EventNoteConfig{Text: "{{.Stat}}"}}}, "note.call_status.text", `Stat`},
		{"activation typo", Config{IncidentID: "I", Note: NoteConfig{Activation: EventNoteConfig{Text: "{{.Name}}"}}}, "note.activation.text", `.AssistantName`},
		{"sample unknown name", Config{IncidentID: "IncidentNumber", Sample: "s.json", Fields: []Field{{Name: "A", Expr: `Adress + "!"`}}}, "fields[0].expr", `unknown name "Adress"`},
		{"sample path typo", Config{IncidentID: "IncidentNumber", Sample: "s.json", Fields: []Field{{Name: "A", From: "Loc.Stret"}}}, "fields[0].from", `the sample record has no "Stret"`},
		{"sample template fails", Config{IncidentID: "IncidentNumber", Sample: "s.json", Fields: []Field{{Name: "A", Template: `{{index .Loc 1}}`}}}, "fields[0].template", `on the sample record`},
		{"sample expr fails", Config{IncidentID: "IncidentNumber", Sample: "s.json", Fields: []Field{{Name: "A", Expr: `num(Address)`}}}, "fields[0].expr", `fails on the sample record`},
		{"sample missing", Config{IncidentID: "I", Sample: "nope.json"}, "sample", `cannot use "nope.json"`},
		{"sample unknown format", Config{IncidentID: "I", Sample: "s.txt"}, "sample", `unknown format`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, probs := CompileWith(tc.c, Options{Dir: dir})
			if m != nil || len(probs) != 1 {
				t.Fatalf("problems = %q", probs)
			}
			if probs[0].Key != tc.key || !strings.Contains(probs[0].Msg, tc.msg) {
				t.Errorf("problem = %q, want key %q and %q", probs[0], tc.key, tc.msg)
			}
		})
	}
	// A good mapping type-checks against its sample.
	c := Config{IncidentID: "IncidentNumber", Sample: "s.json", Fields: []Field{{Name: "A", Expr: `Address + " " + Loc.Street`}}}
	if _, probs := CompileWith(c, Options{Dir: dir}); len(probs) > 0 {
		t.Errorf("problems = %q", probs)
	}
}

func TestNoteRendering(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "I", Timezone: "America/Chicago", Note: NoteConfig{
		Text:           "[{{.Label}}{{with .CriticalMarker}} {{.}}{{end}}] {{.Time}} {{.Note}}",
		Labels:         map[string]string{"CALL_COMPLETED": "Call summary"},
		CriticalMarker: "!!",
		TimeLayout:     "01/02 15:04",
	}})
	got, err := m.RenderNote(adapters.Note{Type: "CALL_COMPLETED", Note: "done", Critical: true, CreatedAt: "2026-03-01T18:00:00Z"})
	if want := "[Call summary !!] 03/01 12:00 done"; err != nil || got != want {
		t.Errorf("RenderNote = %q, %v; want %q", got, err, want)
	}
	got, _ = m.RenderNote(adapters.Note{Type: "INFO", Note: "x", CreatedAt: "garbage"})
	if want := "[INFO]  x"; got != want {
		t.Errorf("RenderNote = %q, want %q", got, want)
	}

	m = mustCompile(t, Config{IncidentID: "I", Note: NoteConfig{MaxLength: 20, Timezone: "Europe/Berlin",
		CallStatus: EventNoteConfig{Enabled: true}, Text: "{{.Note}}"}})
	parts, err := m.RenderNoteParts(adapters.Note{Note: "one two three four five six seven"})
	if want := []string{"one two three (1/3)", "four five six (2/3)", "seven (3/3)"}; err != nil || !reflect.DeepEqual(parts, want) {
		t.Errorf("parts = %q, %v; want %q", parts, err, want)
	}
	if !m.CallStatusNotes() || m.ActivationNotes() {
		t.Error("enabled flags wrong")
	}
	cs, err := m.RenderCallStatus(CallStatusData{Status: "ENDED"})
	if err != nil || !reflect.DeepEqual(cs, []string{"[Assist] Call ENDED"}) {
		t.Errorf("RenderCallStatus = %q, %v", cs, err)
	}
	m = mustCompile(t, Config{IncidentID: "I"})
	act, err := m.RenderActivation(ActivationData{AssistantName: "Fire", Explanation: "smoke"})
	if err != nil || !reflect.DeepEqual(act, []string{"[Assist] Fire activated: smoke"}) {
		t.Errorf("RenderActivation = %q, %v", act, err)
	}
}

func TestSplitNote(t *testing.T) {
	tests := []struct {
		text string
		max  int
		want []string
	}{
		{"short", 20, []string{"short"}},
		{"anything", 0, []string{"anything"}},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 20, []string{"aaaaaaaaaaaaaa (1/3)", "aaaaaaaaaaaaaa (2/3)", "aa (3/3)"}},
		{"word1 word2\nword3   word4 word5", 18, []string{"word1 word2 (1/3)", "word3 (2/3)", "word4 word5 (3/3)"}},
	}
	for _, tc := range tests {
		if got := SplitNote(tc.text, tc.max); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitNote(%q, %d) = %q, want %q", tc.text, tc.max, got, tc.want)
		}
	}
	long := strings.Repeat("word ", 500)
	parts := SplitNote(long, 16)
	if len(parts) < 100 {
		t.Fatalf("%d parts", len(parts))
	}
	for _, p := range parts {
		if utf8.RuneCountInString(p) > 16 {
			t.Errorf("part %q too long", p)
		}
	}
	if !strings.HasSuffix(parts[len(parts)-1], "/"+itoa(len(parts))+")") {
		t.Errorf("last part %q", parts[len(parts)-1])
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return fmtInt(n/10) + string(rune('0'+n%10))
}

func TestExplain(t *testing.T) {
	c := base(Field{Name: "Priority", From: "Pri", Lookup: map[string]string{"1": "High"}, Default: "Low"},
		Field{Name: "Street", Expr: `Loc.Street`, Trim: true, MaxLength: 4},
		Field{Name: "Gone", From: "Nope", OmitEmpty: true})
	c.Filter = `Status != "CLOSED"`
	m := mustCompile(t, c)
	e, err := m.Explain(decodeRecord(t, []byte(`{"IncidentNumber": 7, "Status": "OPEN", "Pri": "1", "Loc": {"Street": " Main St "}}`)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.String()
	for _, want := range []string{
		`filter Status != "CLOSED" → true`,
		`incident_id: from "IncidentNumber"`, `= "7"`,
		`user_id: from "CallTaker.Id"`, `(not in record)`,
		`fields[0] Priority: from "Pri"`, `lookup      "High"`,
		`fields[1] Street: expr "Loc.Street"`, `raw         " Main St "`, `trim        "Main St"`, `max_length 4 "Main"`,
		`fields[2] Gone: from "Nope"`, `omit_empty  "(left out)"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("explanation lacks %q:\n%s", want, s)
		}
	}
	if len(e.Result.Request.Fields) != 2 {
		t.Errorf("result = %+v", e.Result)
	}
	e, err = m.Explain(decodeRecord(t, []byte(`{"IncidentNumber": 7, "Status": "CLOSED"}`)))
	if err != nil || !e.Result.Filtered || !strings.Contains(e.String(), "→ false") {
		t.Errorf("filtered explain = %v %v", e, err)
	}
	_, err = m.Explain(decodeRecord(t, []byte(`{"Status": "OPEN"}`)))
	if err == nil {
		t.Error("no error for a missing incident id")
	}
}

// The cache of extract's regular expressions stays bounded: in entries (also after 2^31
// misses, when the counter would wrap) and in the size of each pattern, since a pattern
// built from record data may be as long as a record's string.
func TestRegexpCacheBounded(t *testing.T) {
	saved := regexpCount.Load()
	defer regexpCount.Store(saved)

	long := "(?:x)" + strings.Repeat("a", 64<<10)
	if _, err := extract("aaa", long, -1); err != nil {
		t.Fatal(err)
	}
	if _, ok := regexps.Load(long); ok {
		t.Error("a 64 KiB pattern was cached")
	}

	regexpCount.Store(math.MaxInt32) // a long-running poller that has seen 2^31 patterns
	for i := range 3 {
		pat := "wrap-" + strconv.Itoa(i)
		if _, err := extract("x", pat, -1); err != nil {
			t.Fatal(err)
		}
		if _, ok := regexps.Load(pat); ok {
			t.Errorf("pattern %d past the cap was cached (counter %d)", i, regexpCount.Load())
		}
	}
}

// A CAD local time without a zone at the DST edges of mapping.timezone. In the spring gap
// (02:30 does not exist) it is read with the offset in force before the change, as a clock
// that has not sprung forward yet shows it (Java, Python and PostgreSQL do the same) — the
// same in zones west and east of UTC; in the autumn overlap the first 01:30 is meant.
func TestParseTimeDSTEdges(t *testing.T) {
	tests := []struct{ zone, in, layout, want string }{
		{"America/Chicago", "2026-03-08 01:59:59", "", "2026-03-08T07:59:59Z"},
		{"America/Chicago", "2026-03-08 02:30:00", "", "2026-03-08T08:30:00Z"},
		{"America/Chicago", "03/08/2026 02:00:00", "", "2026-03-08T08:00:00Z"},
		{"America/Chicago", "2026-03-08T02:30:00", "", "2026-03-08T08:30:00Z"},
		{"America/Chicago", "08.03.2026 02:30", "02.01.2006 15:04", "2026-03-08T08:30:00Z"},
		{"America/Chicago", "2026-03-08 03:00:00", "", "2026-03-08T08:00:00Z"},
		{"America/Chicago", "2026-03-08T02:30:00-06:00", "", "2026-03-08T08:30:00Z"},
		{"America/Chicago", "2026-11-01 01:30:00", "", "2026-11-01T06:30:00Z"},
		{"America/Chicago", "2026-11-01 02:00:00", "", "2026-11-01T08:00:00Z"},
		{"America/Chicago", "2026-11-01T01:30:00-06:00", "", "2026-11-01T07:30:00Z"}, // a zone given is exact
		{"America/Chicago", "2026-11-01T01:30:00-05:00", "", "2026-11-01T06:30:00Z"},
		{"Europe/Berlin", "2026-03-29 02:30:00", "", "2026-03-29T01:30:00Z"},
		{"Europe/Berlin", "2026-10-25 02:30:00", "", "2026-10-25T00:30:00Z"},
		{"Australia/Lord_Howe", "2026-10-04 02:15:00", "", "2026-10-03T15:45:00Z"}, // a 30-minute gap
	}
	for _, tc := range tests {
		e := `format_time(parse_time(T))`
		if tc.layout != "" {
			e = `format_time(parse_time(T, "` + tc.layout + `"))`
		}
		m := mustCompile(t, Config{Timezone: tc.zone, IncidentID: "I", Fields: []Field{{Name: "T", Expr: e}}})
		res, err := m.Map(adapters.Record{"I": "1", "T": tc.in})
		if err != nil {
			t.Errorf("%s %s: %v", tc.zone, tc.in, err)
			continue
		}
		if got := res.Request.Fields[0].Value; got != tc.want {
			t.Errorf("%s %s = %s, want %s", tc.zone, tc.in, got, tc.want)
		}
	}
}
