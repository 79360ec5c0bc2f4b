package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// mapEntry is one element of `map`'s array output (several records): the record's number
// and exactly one of its request, the reason it was filtered out, or its error.
type mapEntry struct {
	Record   int                         `json:"record"`
	Request  *assist.LinkIncidentRequest `json:"request,omitempty"`
	Filtered string                      `json:"filtered,omitempty"`
	Error    string                      `json:"error,omitempty"`
}

func mapped(record int, incidentID, userID string, fields ...string) mapEntry {
	req := &assist.LinkIncidentRequest{IncidentID: incidentID, UserID: userID, Fields: []assist.IncidentField{}}
	for i := 0; i+2 < len(fields); i += 3 {
		req.Fields = append(req.Fields, assist.IncidentField{Name: fields[i], Description: fields[i+1], Value: fields[i+2]})
	}
	return mapEntry{Record: record, Request: req}
}

// decodeEntries decodes the array output strictly: an unknown key is an error.
func decodeEntries(out string) ([]mapEntry, error) {
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var arr []mapEntry
	if err := dec.Decode(&arr); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the array")
	}
	return arr, nil
}

func entryString(e mapEntry) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(e)
	return strings.TrimSpace(b.String())
}

const mapTestConfig = `mapping:
  incident_id: IncidentNumber
  user_id: {from: CallTaker.Id, trim: true}
  filter: 'Status != "CLOSED"'
  fields:
    - {name: NatureCode, description: Nature, from: Nature.Code}
    - {name: Priority, description: Priority, from: Pri, lookup: {"1": High}, default: Low}
  note:
    text: '[{{.Label}}{{with .CriticalMarker}} {{.}}{{end}}] {{.Note}}'
    labels: {CALL_COMPLETED: Call summary}
    max_length: 30
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMapCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yaml", mapTestConfig)
	badCfg := writeFile(t, dir, "bad.yaml", "mapping:\n  incident_id: {frm: X}\n")
	csv := writeFile(t, dir, "incidents.csv", "IncidentNumber,Status,Pri\n1,OPEN,1\n2,CLOSED,2\n,OPEN,3\n")
	csvClosed := writeFile(t, dir, "closed.csv", "IncidentNumber,Status\n1,CLOSED\n2,CLOSED\n")
	xmlFile := writeFile(t, dir, "incident.dat", `<Incident><IncidentNumber>7</IncidentNumber><Status>OPEN</Status></Incident>`)
	noteFile := writeFile(t, dir, "note.json", `{"callId": "c1", "incidentId": "260045123",
		"note": {"type": "CALL_COMPLETED", "note": "Caller reports smoke on the second floor, two people inside", "critical": true, "createdAt": "2026-01-01T10:00:00Z"}}`)
	badNote := writeFile(t, dir, "badnote.json", `{"callId": `)

	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // prefix of stdout ("" = anything)
		want   []string
		stderr string // substring of stderr
	}{
		{"mapped", []string{"--input", "-"}, `{"IncidentNumber": 260045123, "CallTaker": {"Id": " ct1 "}, "Status": "OPEN", "Nature": {"Code": "FIRE"}, "Pri": "1"}`, exitOK,
			`{
  "incidentId": "260045123",
  "userId": "ct1",
  "fields": [
    {
      "name": "NatureCode",
      "description": "Nature",
      "value": "FIRE"
    },
    {
      "name": "Priority",
      "description": "Priority",
      "value": "High"
    }
  ]
}
`, nil, ""},
		{"filtered", []string{"--input", "-"}, `{"IncidentNumber": 1, "Status": "CLOSED"}`, exitFiltered, "filtered out: ", nil, ""},
		{"no incident id", []string{"--input", "-"}, `{"Status": "OPEN"}`, exitProblems, "", nil, "incident_id"},
		{"XML on stdin detected", []string{"--input", "-"}, ` <Incident><IncidentNumber>7</IncidentNumber><Status>OPEN</Status></Incident>`, exitOK, "{\n  \"incidentId\": \"7\"", nil, ""},
		{"XML by --format", []string{"--input", xmlFile, "--format", "XML"}, "", exitOK, "{\n  \"incidentId\": \"7\"", nil, ""},
		{"unknown extension sniffed", []string{"--input", xmlFile}, "", exitOK, "{\n  \"incidentId\": \"7\"", nil, ""},
		{"CSV rows: mapped, filtered, error", []string{"--input", csv}, "", exitProblems, "[\n", nil, "map: record 3: incident_id"},
		{"CSV all filtered", []string{"--input", csvClosed}, "", exitFiltered, "[\n", nil, ""},
		{"JSON array all mapped", []string{"--input", "-"}, `[{"IncidentNumber": 1}, {"IncidentNumber": 2, "Status": "CLOSED"}]`, exitOK, "[\n", nil, ""},
		{"explain", []string{"--input", "-", "--explain"}, `{"IncidentNumber": 5, "Status": "OPEN", "Pri": "9", "CallTaker": {"Id": " u "}}`, exitOK,
			`filter Status != "CLOSED" → true`,
			[]string{`incident_id: from "IncidentNumber"`, `user_id: from "CallTaker.Id"`, `trim        "u"`, `fields[1] Priority: from "Pri"`, `lookup miss → default "Low"`, `"incidentId": "5"`}, ""},
		{"explain several", []string{"--input", "-", "--explain"}, `[{"IncidentNumber": 5}, {"Status": "OPEN"}]`, exitProblems,
			"== record 1 ==", []string{"== record 2 ==", "→ error: incident_id"}, "record 2"},
		{"note", []string{"--note", noteFile}, "", exitOK, "--- note 1/4 (29 characters) ---\n[Call summary CRITICAL] (1/4)\n",
			[]string{"Caller reports smoke on (2/4)", "--- note 4/4 (19 characters) ---\npeople inside (4/4)\n"}, ""},
		{"note from stdin", []string{"--note", "-"}, `{"incidentId": "1", "note": {"type": "INFO", "note": "hi"}}`, exitOK, "--- note 1/1 (9 characters) ---\n[INFO] hi\n", nil, ""},
		{"bad note", []string{"--note", badNote}, "", exitProblems, "", nil, "not an IncidentNotePayload"},
		{"missing --input", nil, "", exitProblems, "", nil, "--input FILE|- (or --note FILE) is required"},
		{"both --input and --note", []string{"--input", "-", "--note", noteFile}, "", exitProblems, "", nil, "not both"},
		{"unknown --format", []string{"--input", "-", "--format", "yaml"}, "{}", exitProblems, "", nil, `unknown --format "yaml"`},
		{"undetectable stdin", []string{"--input", "-"}, "IncidentNumber\n1\n", exitProblems, "", nil, "give --format json|xml|csv"},
		{"CSV on stdin with --format", []string{"--input", "-", "--format", "csv"}, "IncidentNumber\n1\n", exitOK, "{\n  \"incidentId\": \"1\"", nil, ""},
		{"undecodable JSON", []string{"--input", "-"}, `{"IncidentNumber": `, exitProblems, "", nil, "not valid JSON"},
		{"undecodable XML", []string{"--input", "-"}, `<a><b></a>`, exitProblems, "", nil, "not valid XML"},
		{"two JSON values", []string{"--input", "-"}, `{"IncidentNumber": 1} {"IncidentNumber": 2}`, exitProblems, "", nil, "not valid JSON"},
		{"no records", []string{"--input", "-"}, `[]`, exitProblems, "", nil, "holds no record"},
		{"missing input file", []string{"--input", filepath.Join(dir, "nope.json")}, "", exitProblems, "", nil, "no such file"},
		{"bad config", []string{"--config", badCfg, "--input", "-"}, "{}", exitProblems, "", nil, `mapping.incident_id.frm: unknown key (did you mean "from"?)`},
	}
	// arrays holds, for the cases whose output is an array (several records), every element
	// of it: the output is decoded and compared element by element.
	arrays := map[string][]mapEntry{
		"CSV rows: mapped, filtered, error": {
			mapped(1, "1", "", "NatureCode", "Nature", "", "Priority", "Priority", "High"),
			{Record: 2, Filtered: `filter Status != "CLOSED" is false`},
			{Record: 3, Error: `incident_id: "IncidentNumber" is empty in record`},
		},
		"CSV all filtered": {
			{Record: 1, Filtered: `filter Status != "CLOSED" is false`},
			{Record: 2, Filtered: `filter Status != "CLOSED" is false`},
		},
		"JSON array all mapped": {
			mapped(1, "1", "", "NatureCode", "Nature", "", "Priority", "Priority", "Low"),
			{Record: 2, Filtered: `filter Status != "CLOSED" is false`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"map", "--config", cfg}, tt.args...)
			var out, errb strings.Builder
			code := run(args, strings.NewReader(tt.stdin), &out, &errb)
			wantArr, isArray := arrays[tt.name]
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			if tt.code == exitOK && tt.want == nil && !isArray && strings.HasSuffix(tt.stdout, "\n") && out.String() != tt.stdout {
				t.Fatalf("stdout\n%s\nwant\n%s", out.String(), tt.stdout)
			}
			if !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("stdout %q (want prefix %q), stderr %q (want %q)", out.String(), tt.stdout, errb.String(), tt.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if strings.HasPrefix(tt.stdout, "[") != isArray {
				t.Fatalf("test case: an array output (stdout prefix %q) needs its elements in array", tt.stdout)
			}
			if isArray {
				got, err := decodeEntries(out.String())
				if err != nil {
					t.Fatalf("stdout is not an array of map entries: %v\n%s", err, out.String())
				}
				if len(got) != len(wantArr) {
					t.Errorf("%d elements, want %d:\n%s", len(got), len(wantArr), out.String())
				}
				for i := range min(len(got), len(wantArr)) {
					if !reflect.DeepEqual(got[i], wantArr[i]) {
						t.Errorf("element %d:\n got %s\nwant %s", i, entryString(got[i]), entryString(wantArr[i]))
					}
				}
			}
		})
	}
}
