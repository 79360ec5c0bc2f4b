package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMapCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(`mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  filter: 'Status != "CLOSED"'
  fields:
    - {name: NatureCode, description: Nature, from: Nature.Code}
    - {name: Priority, description: Priority, from: Pri, lookup: {"1": High}, default: Low}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input string
		code        int
		stdout      string
		stderr      string
	}{
		{"mapped", `{"IncidentNumber": 260045123, "CallTaker": {"Id": "ct1"}, "Status": "OPEN", "Nature": {"Code": "FIRE"}, "Pri": "1"}`, exitOK,
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
`, ""},
		{"filtered", `{"IncidentNumber": 1, "Status": "CLOSED"}`, exitFiltered, "filtered out: ", ""},
		{"no incident id", `{"Status": "OPEN"}`, exitProblems, "", "incident_id"},
		{"not JSON", `<xml/>`, exitProblems, "", "not a JSON object"},
		{"two records", `{"IncidentNumber": 1} {"IncidentNumber": 2}`, exitProblems, "", "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := run([]string{"map", "--config", cfg, "--input", "-"}, strings.NewReader(tt.input), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			if tt.code == exitOK && out.String() != tt.stdout {
				t.Fatalf("stdout\n%s\nwant\n%s", out.String(), tt.stdout)
			}
			if !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("stdout %q (want prefix %q), stderr %q (want %q)", out.String(), tt.stdout, errb.String(), tt.stderr)
			}
		})
	}
}
