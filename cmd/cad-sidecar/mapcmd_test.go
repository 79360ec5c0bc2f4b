package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
		{"CSV rows: mapped, filtered, error", []string{"--input", csv}, "", exitProblems, "[\n",
			[]string{`"record": 1`, `"incidentId": "1"`, `"record": 2`, `"filtered": "filter Status != \"CLOSED\" is false"`, `"record": 3`, `"error": "incident_id: \"IncidentNumber\" is empty in record"`},
			"map: record 3: incident_id"},
		{"CSV all filtered", []string{"--input", csvClosed}, "", exitFiltered, "[\n", []string{`"record": 2`}, ""},
		{"JSON array all mapped", []string{"--input", "-"}, `[{"IncidentNumber": 1}, {"IncidentNumber": 2, "Status": "CLOSED"}]`, exitOK, "[\n",
			[]string{`"request": {`, `"incidentId": "1"`, `"filtered"`}, ""},
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"map", "--config", cfg}, tt.args...)
			var out, errb strings.Builder
			code := run(args, strings.NewReader(tt.stdin), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			if tt.code == exitOK && tt.want == nil && strings.HasSuffix(tt.stdout, "\n") && out.String() != tt.stdout {
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
			if strings.HasPrefix(tt.stdout, "[") {
				var arr []map[string]any
				if err := json.Unmarshal([]byte(out.String()), &arr); err != nil {
					t.Errorf("stdout is not a JSON array: %v", err)
				}
			}
		})
	}
}
