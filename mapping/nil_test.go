package mapping

import (
	"os"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// dotNetCall is the first call of record/testdata/dotnet_calls.xml, a .NET export whose
// empty values are i:nil elements.
func dotNetCall(t *testing.T) adapters.Record {
	t.Helper()
	data, err := os.ReadFile("../record/testdata/dotnet_calls.xml")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.DecodeXML(data, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return rec["CallForService"].([]any)[0].(map[string]any)
}

// TestNilElementIsEmpty: an xsi:nil element is empty for required, omit_empty, default,
// coalesce and templates — never the text {"@nil":"true"}.
func TestNilElementIsEmpty(t *testing.T) {
	rec := dotNetCall(t)
	for _, tc := range []struct {
		name    string
		field   Field
		want    string
		omitted bool
		err     string
	}{
		{name: "from", field: Field{From: "CallerName"}, want: ""},
		{name: "default", field: Field{From: "CallerName", Default: "UNKNOWN"}, want: "UNKNOWN"},
		{name: "omit_empty", field: Field{From: "CallerName", OmitEmpty: true}, omitted: true},
		{name: "required", field: Field{From: "Location.CrossStreet", Required: true}, err: "is required but empty"},
		{name: "coalesce", field: Field{Expr: `coalesce(CallerName, CallerPhone)`}, want: "5550104477"},
		{name: "template", field: Field{Template: `[{{.CallerName}}][{{.Location.CrossStreet}}]`}, want: "[][]"},
		{name: "template if", field: Field{Template: `{{if .Narrative}}has{{else}}none{{end}}`}, want: "none"},
		{name: "expr nil check", field: Field{Expr: `Narrative == nil ? "none" : Narrative`}, want: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.field.Name = "F"
			m := mustCompile(t, Config{IncidentID: "CallNo", Fields: []Field{tc.field}})
			res, err := m.Map(rec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.omitted {
				if len(res.Request.Fields) != 0 {
					t.Fatalf("fields = %+v, want the field left out", res.Request.Fields)
				}
				return
			}
			if got := res.Request.Fields[0].Value; got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNilIncidentIDIsEmpty: a nil incident number is "empty", not "{"@nil":"true"}".
func TestNilIncidentIDIsEmpty(t *testing.T) {
	rec := dotNetCall(t)
	m := mustCompile(t, Config{IncidentID: "CallerName"})
	if _, err := m.Map(rec); err == nil || !strings.Contains(err.Error(), "is empty in record") {
		t.Fatalf("err = %v, want empty", err)
	}
}

// TestNilParentInTemplates: a member of an xsi:nil element (<Location i:nil="true"/>) is
// empty in templates, as a member of a missing one is — not a template error.
func TestNilParentInTemplates(t *testing.T) {
	data, err := os.ReadFile("../record/testdata/dotnet_calls.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := record.DecodeXML(data, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	second := doc["CallForService"].([]any)[1].(map[string]any)
	for _, tmpl := range []string{
		`[{{.Location.Address}}]`, // the fast path
		`[{{if .Location.Address}}x{{end}}{{with .Location}}{{.Address}}{{end}}{{.Location.Address | printf "%v"}}]`,
	} {
		m := mustCompile(t, Config{IncidentID: "CallNo", Fields: []Field{{Name: "A", Template: tmpl, Default: "none"}}})
		res, err := m.Map(second)
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		if got := res.Request.Fields[0].Value; got != "[]" && got != "[<nil>]" {
			t.Errorf("%s = %q", tmpl, got)
		}
	}
}
