package tmplfuncs

import (
	"encoding/json"
	"strings"
	"testing"
	"text/template"
)

func TestFuncs(t *testing.T) {
	tests := []struct {
		tmpl string
		data any
		want string
	}{
		{`{{json .}}`, "a \"b\" <c>", `"a \"b\" <c>"`},
		{`{{json .}}`, map[string]any{"n": json.Number("12.50")}, `{"n":12.50}`},
		{`{{xml .}}`, "Fish & <Chips>", `Fish &amp; &lt;Chips&gt;`},
		{`{{xml .}}`, json.Number("7"), `7`},
	}
	for _, tc := range tests {
		tp := template.Must(template.New("t").Funcs(Funcs()).Parse(tc.tmpl))
		var b strings.Builder
		if err := tp.Execute(&b, tc.data); err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		if b.String() != tc.want {
			t.Errorf("%s over %#v = %q, want %q", tc.tmpl, tc.data, b.String(), tc.want)
		}
	}
}
