package rest

import (
	"context"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// Whatever the template and the id, the sink never sends a path with a "." or ".."
// segment (raw or percent-encoded): the CAD would resolve it to another resource
// (POST /incidents/../notes). Such a note is refused with a permanent error naming the
// incident, and nothing is sent.
func TestWriteNoteRefusesDotSegments(t *testing.T) {
	for _, tc := range []struct {
		name, path, incident string
	}{
		{"default template, id ..", DefaultNotePath, ".."},
		{"default template, id .", DefaultNotePath, "."},
		{"raw template value", "/incidents/{{.RawID}}/notes", ""},
		{"encoded in the template", "/incidents/%2e%2E/notes/{{.IncidentID}}", "7"},
		{"half encoded", "/incidents/.%2e/{{.IncidentID}}", "7"},
		{"absolute URL", "http://cad.invalid/a/./{{.IncidentID}}", "7"},
		{"trailing", "/incidents/{{.IncidentID}}/..", "7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ch := recorder(t, 201, nil, "")
			path := strings.ReplaceAll(tc.path, "{{.RawID}}", "..")
			_, sink := newTest(t, srv, func(c *Config) { c.WriteNote.Path = path })
			n := note
			if tc.incident != "" {
				n.IncidentID = tc.incident
			}
			err := sink.WriteNote(context.Background(), n)
			if err == nil || !delivery.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			if !strings.Contains(err.Error(), "dot segment") || !strings.Contains(err.Error(), "incident "+n.IncidentID) {
				t.Fatalf("reason %q does not say why or which incident", err)
			}
			select {
			case s := <-ch:
				t.Fatalf("sent %s %s", s.method, s.rawPath)
			default:
			}
		})
	}
	// Dots inside a segment are fine.
	srv, ch := recorder(t, 201, nil, "")
	_, sink := newTest(t, srv, nil)
	n := note
	n.IncidentID = "2026.01..7"
	if err := sink.WriteNote(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if got := (<-ch).path; got != "/api/incidents/2026.01..7/notes" {
		t.Fatalf("path %s", got)
	}
}
