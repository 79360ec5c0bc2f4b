package mapping

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strconv"
	"strings"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// TemplateFuncs are the helpers every template of the product gets:
//   - json: JSON-encodes any value (a string becomes quoted and escaped; no HTML escaping)
//   - xml: XML-escapes the text of a value (String rendering)
//
// text/template's own urlquery escapes for query strings.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": jsonFunc,
		"xml":  xmlFunc,
	}
}

func jsonFunc(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

func xmlFunc(v any) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(String(v))); err != nil {
		return "", err
	}
	return b.String(), nil
}

// sampleNote is the data a note template is test-run with by Compile, so that a misspelt
// field (.Nte) is a config problem and not a dead letter.
var sampleNote = adapters.Note{
	IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Type: "INFO",
	Note: "Caller reports smoke", Critical: true, CreatedAt: "2026-01-01T00:00:00Z", Key: "k-1",
}

// compileNote parses and test-runs the note template; msg is "" when it is fine.
func compileNote(text string) (*template.Template, string) {
	t, err := template.New("note.text").Funcs(TemplateFuncs()).Parse(text)
	if err != nil {
		return nil, "cannot parse " + strconv.Quote(text) + ": " + templateError(err)
	}
	if err := t.Execute(discard{}, sampleNote); err != nil {
		return nil, "cannot render " + strconv.Quote(text) + ": " + templateError(err) +
			" (note data: .IncidentID .CallID .UserID .Type .Note .Critical .CreatedAt)"
	}
	return t, ""
}

// templateError drops the "template: note.text:" prefix that repeats the key.
func templateError(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// RenderNote renders mapping.note.text with n's fields and returns the text. n.Text is
// ignored as input (it is empty in the template data).
func (m *Mapper) RenderNote(n adapters.Note) (string, error) {
	n.Text = ""
	var b strings.Builder
	if err := m.note.Execute(&b, n); err != nil {
		return "", &Error{Key: "note.text", Msg: templateError(err), Err: err}
	}
	return b.String(), nil
}
