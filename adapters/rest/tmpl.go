package rest

import (
	"bytes"
	"net/url"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/tmplfuncs"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// queryEscaped is a string that is already URL-query-escaped; pathEscaped one that is
// already URL-path-escaped. They print as themselves, and the query and path helpers
// convert rather than escape them twice.
type (
	queryEscaped string
	pathEscaped  string
)

// funcs are the template helpers: the product's json and xml (tmplfuncs.Funcs),
// plus query and path, which know the pre-escaped values of this adapter's URL templates.
var funcs = func() template.FuncMap {
	f := tmplfuncs.Funcs()
	f["query"] = queryFunc
	f["path"] = pathFunc
	return f
}()

func queryFunc(v any) string {
	switch v := v.(type) {
	case queryEscaped:
		return string(v)
	case pathEscaped:
		raw, err := url.PathUnescape(string(v))
		if err != nil {
			raw = string(v)
		}
		return url.QueryEscape(raw)
	}
	return url.QueryEscape(record.String(v))
}

func pathFunc(v any) string {
	switch v := v.(type) {
	case pathEscaped:
		return string(v)
	case queryEscaped:
		raw, err := url.QueryUnescape(string(v))
		if err != nil {
			raw = string(v)
		}
		return url.PathEscape(raw)
	}
	return url.PathEscape(record.String(v))
}

// pollData is the data of the poll.path template.
type pollData struct {
	Cursor    queryEscaped // query-escaped
	RawCursor string
}

// notePathData is the data of the write_note.path template: adapters.Note with every
// string already path-escaped.
type notePathData struct {
	IncidentID, CallID, UserID, Type, Note pathEscaped
	Critical                               bool
	CreatedAt, Text, Key                   pathEscaped
}

func newNotePathData(n adapters.Note) notePathData {
	e := func(s string) pathEscaped { return pathEscaped(url.PathEscape(s)) }
	return notePathData{
		IncidentID: e(n.IncidentID), CallID: e(n.CallID), UserID: e(n.UserID), Type: e(n.Type),
		Note: e(n.Note), Critical: n.Critical, CreatedAt: e(n.CreatedAt), Text: e(n.Text), Key: e(n.Key),
	}
}

type templates struct {
	pollPath, notePath, noteBody *template.Template
}

// templateError is a template that does not parse or cannot run; Key is relative to cad.rest.
type templateError struct {
	Key, Text string
	Err       error
}

func (e *templateError) Error() string { return e.Key + ": " + e.Err.Error() }

// parseTemplates parses the three templates and runs each once on sample data, so that a
// misspelt field is reported at start-up rather than on the first note.
func parseTemplates(c *Config) (templates, []*templateError) {
	var t templates
	var errs []*templateError
	sample := adapters.Note{IncidentID: "1", CallID: "c", UserID: "u", Type: "INFO", Note: "n", CreatedAt: "2006-01-02T15:04:05Z", Text: "t", Key: "k"}
	for _, x := range []struct {
		key, text string
		data      any
		dst       **template.Template
	}{
		{"poll.path", c.Poll.Path, pollData{Cursor: "0", RawCursor: "0"}, &t.pollPath},
		{"write_note.path", c.WriteNote.Path, newNotePathData(sample), &t.notePath},
		{"write_note.body", c.WriteNote.Body, sample, &t.noteBody},
	} {
		tm, err := template.New(x.key).Funcs(funcs).Option("missingkey=error").Parse(x.text)
		if err == nil {
			err = tm.Execute(new(bytes.Buffer), x.data)
		}
		if err == nil && x.key == "write_note.body" {
			err = checkBody(tm, c.WriteNote.ContentType)
		}
		if err != nil {
			errs = append(errs, &templateError{Key: x.key, Text: x.text, Err: err})
			continue
		}
		*x.dst = tm
	}
	return t, errs
}

func render(t *template.Template, data any) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// parseDetailPath parses poll.detail.path (data: the listed record, strings path-escaped).
func parseDetailPath(text string) (*template.Template, error) {
	return template.New("poll.detail.path").Funcs(funcs).Option("missingkey=error").Parse(text)
}
