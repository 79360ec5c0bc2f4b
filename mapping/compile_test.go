package mapping

import (
	"strings"
	"testing"
)

func TestCompileProblems(t *testing.T) {
	ok := Field{Name: "A", From: "A"}
	tests := []struct {
		name  string
		c     Config
		key   string
		quote string // the bad value as quoted in Msg ("" = nothing to quote)
		msg   string // another substring of Msg
	}{
		{"bad expr syntax",
			base(ok, Field{Name: "B", Expr: `Loc.Number + `}),
			"fields[1].expr", `"Loc.Number + "`, "cannot compile"},
		{"unknown helper",
			base(ok, Field{Name: "B", Expr: `nope_fn(X)`}),
			"fields[1].expr", `"nope_fn(X)"`, "unknown function nope_fn"},
		{"helper arity",
			base(ok, Field{Name: "B", Expr: `digits()`}),
			"fields[1].expr", `"digits()"`, "not enough arguments"},
		{"bad filter syntax",
			Config{IncidentID: "I", Filter: `Status != `},
			"filter", `"Status != "`, "cannot compile"},
		{"filter not boolean",
			Config{IncidentID: "I", Filter: `"yes"`},
			"filter", `"\"yes\""`, "bool"},
		{"bad template",
			Config{IncidentID: "I", Note: NoteConfig{Text: "[Assist] {{.Note"}},
			"note.text", `"[Assist] {{.Note"`, "cannot parse"},
		{"template with unknown field",
			Config{IncidentID: "I", Note: NoteConfig{Text: "{{.Nte}}"}},
			"note.text", `"{{.Nte}}"`, "Nte"},
		{"template with unknown function",
			Config{IncidentID: "I", Note: NoteConfig{Text: "{{yaml .Note}}"}},
			"note.text", `"{{yaml .Note}}"`, "yaml"},
		{"two of from, expr, value",
			base(ok, Field{Name: "B", Value: "b"}, Field{Name: "C", From: "Pri", Expr: `Pri`}),
			"fields[2]", `from "Pri" and expr "Pri"`, "exactly one of from, expr, value, template is required"},
		{"all three",
			base(Field{Name: "C", From: "P", Expr: `E`, Value: "V"}),
			"fields[0]", `from "P" and expr "E" and value "V"`, "exactly one of from, expr, value, template is required"},
		{"none of from, expr, value",
			base(Field{Name: "C"}),
			"fields[0]", "", "exactly one of from, expr, value, template is required (got none)"},
		{"missing name",
			base(ok, Field{From: "Nature.Code"}),
			"fields[1].name", `"Nature.Code"`, "is required"},
		{"duplicate name",
			base(ok, Field{Name: "A", Value: "x"}),
			"fields[1].name", `"A"`, "duplicate name"},
		{"missing incident_id",
			Config{Fields: []Field{ok}},
			"incident_id", "", "is required"},
		{"bad incident_id path",
			Config{IncidentID: "Inc..No"},
			"incident_id", `"Inc..No"`, "invalid path"},
		{"bad user_id path",
			Config{IncidentID: "I", UserID: "Taker[x]"},
			"user_id", `"Taker[x]"`, `list index "x" is not an integer`},
		{"bad from path",
			base(Field{Name: "U", From: "Units[0"}),
			"fields[0].from", `"Units[0"`, "unclosed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, probs := Compile(tc.c)
			if m != nil {
				t.Error("Mapper is not nil despite problems")
			}
			if len(probs) != 1 {
				t.Fatalf("problems = %q, want exactly one", probs)
			}
			p := probs[0]
			if p.Key != tc.key {
				t.Errorf("Key = %q, want %q (Msg %q)", p.Key, tc.key, p.Msg)
			}
			if !strings.Contains(p.Msg, tc.quote) || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q and %q", p.Msg, tc.quote, tc.msg)
			}
			if strings.Contains(p.Msg, "\n") {
				t.Errorf("Msg spans lines: %q", p.Msg)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	c := Config{
		Filter: `Status ==`,
		Fields: []Field{
			{Name: "A", From: "A"},
			{Name: "B", Expr: `(`},
			{From: "C", Value: "x"},
		},
		Note: NoteConfig{Text: "{{"},
	}
	_, probs := Compile(c)
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Key)
	}
	want := []string{"incident_id", "filter", "fields[1].expr", "fields[2].name", "fields[2]", "note.text"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if s := probs[0].String(); !strings.HasPrefix(s, "incident_id: ") {
		t.Errorf("Problem.String() = %q", s)
	}
}

func TestCompileDefaultNote(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "I"})
	if m.note.text == nil {
		t.Fatal("no note template")
	}
}
