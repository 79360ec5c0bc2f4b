package mapping

import "testing"

// TestFastTemplateMatchesTemplate: where the fast path renders, it renders exactly what
// text/template does; the templates it does not handle are left to text/template.
func TestFastTemplateMatchesTemplate(t *testing.T) {
	rec := decodeRecord(t, []byte(`{"A": "x", "N": 12.50, "Big": 123456789012345678901, "Loc": {"No": 1200, "St": "Main St", "In": {"Z": "z"}},
		"Nil": null, "L": [1, 2], "S": "str", "E": "", "T": true, "M": {"k": "<&>"}}`))
	for _, tc := range []struct {
		text string
		fast bool
	}{
		{`{{.A}}`, true},
		{`{{.Loc.No}} {{.Loc.St}}, {{.Loc.In.Z}}`, true},
		{`[{{.Nope}}][{{.Loc.Nope}}][{{.Nil}}][{{.E}}]`, true},
		{`{{.Nope.X}}|{{.Nil.X}}|{{.Nil.X.Y}}`, true}, // a member of null is "", as of a missing key
		{`{{if .Nil.X}}y{{else}}n{{end}}{{range .Nil.L}}x{{end}}{{with .Loc.In}}{{.Z}}{{end}}`, false},
		{`{{.N}} {{.Big}} {{.T}} {{.L}} {{.M}}`, true},
		{`{{.S.X}}`, true}, // a string has no field: the template decides (its error)
		{`{{.Loc.No.X}}`, true},
		{`plain text`, true},
		{`{{if .A}}y{{end}}`, false},
		{`{{json .A}}`, false},
		{`{{.A | printf "%s!"}}`, false},
		{`{{$x := .A}}{{$x}}`, false},
	} {
		tm, err := parseRecordTemplate("t", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		f := compileFast(tc.text)
		if (f != nil) != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.text, f != nil, tc.fast)
			continue
		}
		if f == nil {
			if _, err := execRecordTemplate(tm, map[string]any(rec)); err != nil {
				t.Errorf("%s: %v", tc.text, err)
			}
			continue
		}
		want, werr := execRecordTemplate(tm, map[string]any(rec))
		got, ok := f.render(rec)
		switch {
		case !ok && werr == nil:
			t.Errorf("%s: fast path declined, template gives %q", tc.text, want)
		case ok && werr != nil:
			t.Errorf("%s: fast path gives %q, template fails: %v", tc.text, got, werr)
		case ok && got != want:
			t.Errorf("%s: fast %q, template %q", tc.text, got, want)
		}
	}
}
