package rest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// The sink's log line names the note with the project's keys, incident_id and call_id.
func TestWriteNoteLogKeys(t *testing.T) {
	srv, _ := recorder(t, 201, nil, "")
	c := NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Poll.Path = "/x"
	var buf bytes.Buffer
	_, sink, err := New(c, adapters.Deps{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteNote(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	line := ""
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, `msg="note written"`) {
			line = l
		}
	}
	if !strings.Contains(line, "incident_id="+note.IncidentID) || !strings.Contains(line, "call_id="+note.CallID) {
		t.Fatalf("note written line %q: want incident_id and call_id\n%s", line, buf.String())
	}
}
