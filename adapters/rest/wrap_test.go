package rest

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"text/template"
)

// The sink's permanent errors wrap their cause (%w): a caller can still find the template's
// execution error or the URL parse error in them.
func TestWriteNoteErrorsWrapCause(t *testing.T) {
	srv, _ := recorder(t, 201, nil, "")
	tests := []struct {
		name string
		edit func(*Config)
		as   func(error) bool
	}{
		{"path template", func(c *Config) {
			c.WriteNote.Path = `/incidents/{{if eq .IncidentID "260045123"}}{{index .IncidentID 99}}{{end}}/notes`
		},
			func(err error) bool { var e template.ExecError; return errors.As(err, &e) }},
		{"body template", func(c *Config) {
			c.WriteNote.Body = `{"n": "{{if eq .CreatedAt "2026-01-02T10:00:00Z"}}{{index .Text 999}}{{end}}"}`
		},
			func(err error) bool { var e template.ExecError; return errors.As(err, &e) }},
		{"bad URL", func(c *Config) { c.WriteNote.Path = `/incidents/{{.IncidentID}}/x%zz` },
			func(err error) bool { var e *url.Error; return errors.As(err, &e) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, sink := newTest(t, srv, tc.edit)
			err := sink.WriteNote(context.Background(), note)
			if err == nil || !tc.as(err) {
				t.Fatalf("err = %v (%T): its cause is not wrapped", err, err)
			}
		})
	}
}
