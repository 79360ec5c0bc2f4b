package mapping

import (
	"strings"
	"testing"
)

// TestCompileWarnings: without mapping.sample, Compile warns and names the keys it could
// not check; a template that fails on synthetic data is a warning of its own, not a
// problem.
func TestCompileWarnings(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "Id", Filter: `Status != "X"`, Fields: []Field{
		{Name: "A", From: "Loc.Street"},
		{Name: "B", Expr: `Loc.Street`},
		{Name: "C", Template: `{{.Loc.Number}} {{range .Units}}{{.Id}}{{end}}`},
		{Name: "D", Template: `{{index .Units 50}}`}, // fails on synthetic data: "sample" has no index 50
		{Name: "E", Value: "x"},
	}})
	ws := m.Warnings()
	if len(ws) != 2 {
		t.Fatalf("warnings = %v, want 2", ws)
	}
	w := ws[0].String()
	for _, want := range []string{"sample: not set", "filter, fields[1].expr", "incident_id, fields[0].from", "fields[2].template, fields[3].template"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	if strings.Contains(w, "fields[4]") {
		t.Errorf("a constant is named: %q", w)
	}
	if ws[1].Key != "fields[3].template" || !strings.Contains(ws[1].Msg, "on synthetic data") {
		t.Errorf("warning = %v, want fields[3].template on synthetic data", ws[1])
	}

	rec := syntheticRecord(m.fields[2].text)
	if loc, _ := rec["Loc"].(map[string]any); loc["Number"] != "sample" {
		t.Errorf("synthetic record = %v", rec)
	}
	if _, ok := rec["Id"]; ok {
		t.Errorf("a field inside range is taken as a record field: %v", rec)
	}
	if units, _ := rec["Units"].([]any); len(units) != 1 || units[0].(map[string]any)["Id"] != "sample" {
		t.Errorf("range: Units = %#v, want a list of one map with Id", rec["Units"])
	}
}
