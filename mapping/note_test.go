package mapping

import (
	"encoding/json"
	"strings"
	"testing"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

func TestRenderNote(t *testing.T) {
	n := adapters.Note{IncidentID: "260045123", CallID: "c-9", Type: "INFO", Note: "Smoke visible", Text: "ignored"}
	tests := []struct {
		text     string
		critical bool
		want     string
	}{
		{"", false, "[Assist] Smoke visible"},
		{"", true, "[Assist CRITICAL] Smoke visible"},
		{"{{.Type}} {{.IncidentID}}/{{.CallID}}: {{.Note}}{{.Text}}", false, "INFO 260045123/c-9: Smoke visible"},
		{"{{xml .Note}}", false, "Smoke visible"},
	}
	for _, tc := range tests {
		m := mustCompile(t, Config{IncidentID: "I", Note: NoteConfig{Text: tc.text}})
		n := n
		n.Critical = tc.critical
		got, err := m.RenderNote(n)
		if err != nil || got != tc.want {
			t.Errorf("RenderNote(%q) = %q, %v; want %q", tc.text, got, err, tc.want)
		}
	}
}

// A sink's body template (the rest adapter's write_note.body) built on the rendered text:
// the json helper must produce valid JSON whatever the note contains.
func TestRenderNoteJSONBody(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "I"})
	n := adapters.Note{IncidentID: "1", Note: "Caller said \"fire\" <2nd floor> & smoke\n\ttab \u2028 é", Critical: true}
	text, err := m.RenderNote(n)
	if err != nil {
		t.Fatal(err)
	}
	n.Text = text
	body := template.Must(template.New("body").Funcs(TemplateFuncs()).
		Parse(`{"text": {{json .Text}}, "critical": {{.Critical}}, "incident": {{json .IncidentID}}}`))
	var b strings.Builder
	if err := body.Execute(&b, n); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Text     string `json:"text"`
		Critical bool   `json:"critical"`
		Incident string `json:"incident"`
	}
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("body %s is not JSON: %v", b.String(), err)
	}
	if got.Text != "[Assist CRITICAL] "+n.Note || !got.Critical || got.Incident != "1" {
		t.Errorf("body decodes to %+v", got)
	}
	if strings.Contains(b.String(), `\u003c`) {
		t.Errorf("json helper escapes HTML: %s", b.String())
	}
}

func TestTemplateFuncs(t *testing.T) {
	tests := []struct{ text, want string }{
		{`{{json .}}`, `"a \"b\" <c>"`},
		{`{{xml .}}`, `a &#34;b&#34; &lt;c&gt;`},
	}
	for _, tc := range tests {
		tpl := template.Must(template.New("t").Funcs(TemplateFuncs()).Parse(tc.text))
		var b strings.Builder
		if err := tpl.Execute(&b, `a "b" <c>`); err != nil || b.String() != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.text, b.String(), err, tc.want)
		}
	}
	tpl := template.Must(template.New("t").Funcs(TemplateFuncs()).Parse(`{{json .}}`))
	var b strings.Builder
	if err := tpl.Execute(&b, map[string]any{"n": json.Number("12.50"), "l": []int{1}}); err != nil || b.String() != `{"l":[1],"n":12.50}` {
		t.Errorf("json of a map = %q, %v", b.String(), err)
	}
}
