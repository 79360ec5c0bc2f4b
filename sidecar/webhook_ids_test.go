package sidecar_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// A webhook whose incidentId or callId is not an id (".", "..", 5,000 characters, invalid
// UTF-8, a control character) is answered 400 with the field named, stores nothing, and
// leaves no log line longer than a few hundred bytes.
func TestWebhookRefusesBadIDs(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Assist.Webhook.MaxBody = 64 << 10 }})
	if resp, body := post(t, e.hookURL, hookToken, noteBody("INC-1", "first")); resp.StatusCode != http.StatusOK {
		t.Fatalf("good note: %d %s", resp.StatusCode, body)
	}
	before := e.stats(t)
	withCall := func(call string) string {
		return strings.Replace(noteBody("INC-2", "x"), `"callId":"call-1"`, `"callId":`+call, 1)
	}
	tests := []struct {
		name, body, field string
	}{
		{"incidentId ..", noteBody("..", "x"), "incidentId"},
		{"incidentId .", noteBody(".", "x"), "incidentId"},
		{"incidentId of 5000 characters", noteBody(strings.Repeat("7", 5000), "x"), "incidentId"},
		{"incidentId with invalid UTF-8", strings.Replace(noteBody("inv3#", "x"), "#", "\xff", 1), "UTF-8"},
		{"incidentId with a control character", strings.Replace(noteBody("INC#", "x"), "#", `\u0001`, 1), "incidentId"},
		{"callId ..", withCall(`".."`), "callId"},
		{"invalid UTF-8 in the note text", strings.Replace(noteBody("INC-2", "a#b"), "#", "\xc3\x28", 1), "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, e.hookURL, hookToken, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d (%.200s), want 400", resp.StatusCode, body)
			}
			if !strings.Contains(body, tt.field) {
				t.Fatalf("reason %q does not name %s", body, tt.field)
			}
			if after := e.stats(t); after.Pending[outbox.TopicNote] != 1 || after.PendingBytes != before.PendingBytes {
				t.Fatalf("outbox changed: before %+v after %+v", before, after)
			}
		})
	}
	for i, line := range strings.Split(e.logs.String(), "\n") {
		if len(line) > 2048 {
			t.Fatalf("log line %d is %d bytes: %.300s…", i, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Fatalf("log line %d is not UTF-8: %q", i, line)
		}
	}
}

// The duplicate check includes the incident id: the same note (same call, time, type and
// text) for two incidents is queued twice, and the same note for one incident once.
func TestSameNoteForTwoIncidentsIsQueuedTwice(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	for _, id := range []string{"INC-A", "INC-B", "INC-A"} {
		if resp, body := post(t, e.hookURL, hookToken, noteBody(id, "same text")); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", id, resp.StatusCode, body)
		}
	}
	if got := e.stats(t).Pending[outbox.TopicNote]; got != 2 {
		t.Fatalf("%d notes queued, want 2 (one per incident)", got)
	}
	if got := e.metric(t, "cad_sidecar_notes_received_total", "source", "push", "result", "duplicate"); got != 1 {
		t.Fatalf("duplicates %v, want 1", got)
	}
}
