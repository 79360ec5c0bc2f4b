package rest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// bodySamples are the notes write_note.body is test-rendered with: a plain one and one
// whose text holds what a template must escape (quotes, a backslash, a line break, < and
// &), so that `"{{.Text}}"` instead of `{{json .Text}}` is caught before the first note.
var bodySamples = []adapters.Note{
	{IncidentID: "1", CallID: "c", UserID: "u", Type: "INFO", Note: "n", CreatedAt: "2006-01-02T15:04:05Z", Text: "t", Key: "k"},
	{IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Type: "CALL_COMPLETED", Critical: true,
		Note: "Caller said \"help\" \\ 2nd floor\n<rear> & door", CreatedAt: "2006-01-02T15:04:05Z",
		Text: "[Assist CRITICAL] Caller said \"help\" \\ 2nd floor\n<rear> & door", Key: "k-1"},
}

// bodyKind is what write_note.content_type says the body is: "json", "xml" or "" (not
// checked).
func bodyKind(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return "xml"
	}
	return ""
}

// checkBody renders write_note.body with each of bodySamples and checks that the result
// is what write_note.content_type says: one JSON value, or a well-formed XML document.
func checkBody(t *template.Template, contentType string) error {
	kind := bodyKind(contentType)
	for i, n := range bodySamples {
		var b bytes.Buffer
		if err := t.Execute(&b, n); err != nil {
			return err
		}
		var bad error
		switch kind {
		case "json":
			bad = checkJSON(b.Bytes())
		case "xml":
			bad = checkXML(b.Bytes())
		}
		if bad != nil {
			what := "a note"
			if i > 0 {
				what = "a note whose text has quotes, a backslash, a line break, < or &"
			}
			hint := `write {{json .Text}} (a quoted, escaped JSON string)`
			if kind == "xml" {
				hint = `write {{xml .Text}}`
			}
			return fmt.Errorf("does not render valid %s (content_type %s) for %s: %v; %s", strings.ToUpper(kind), contentType, what, bad, hint)
		}
	}
	return nil
}

func checkJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

func checkXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	roots := 0
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root elements, want 1", roots)
	}
	return nil
}
