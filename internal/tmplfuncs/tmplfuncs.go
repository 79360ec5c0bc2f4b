// Package tmplfuncs holds the text/template helpers every template of the product gets — the
// mapping's and the REST adapter's alike — so that both take them from below rather than one
// from the other.
package tmplfuncs

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// Funcs are the helpers every template of the product gets:
//   - json: JSON-encodes any value (a string becomes quoted and escaped; no HTML escaping)
//   - xml: XML-escapes the text of a value (record.String rendering)
//
// text/template's own urlquery escapes for query strings.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json": JSON,
		"xml":  XML,
	}
}

// JSON encodes v as compact JSON without HTML escaping.
func JSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// XML escapes the text of v (record.String) for XML.
func XML(v any) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(record.String(v))); err != nil {
		return "", err
	}
	return b.String(), nil
}
