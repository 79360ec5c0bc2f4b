package sidecar_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Every bad webhook gets its status code and leaves the outbox exactly as it was. The CAD
// is down throughout, so whatever is queued stays queued and can be counted.
func TestWebhookBadInputChangesNothing(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-1", "first"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("good note: %d", resp.StatusCode)
	}
	before := e.stats(t)
	if before.Pending[outbox.TopicNote] != 1 {
		t.Fatalf("good note not queued: %+v", before)
	}

	big := noteBody("INC-2", strings.Repeat("x", 2048)) // max_body is 1KiB
	tests := []struct {
		name, auth, body string
		want             int
	}{
		{"wrong token", "Bearer not-the-token-at-all", noteBody("INC-2", "bad"), http.StatusUnauthorized},
		{"no token", "", noteBody("INC-2", "bad"), http.StatusUnauthorized},
		{"malformed JSON", hookToken, `{"callId": "c", "note": {`, http.StatusBadRequest},
		{"not an event", hookToken, `{"hello": "world"}`, http.StatusBadRequest},
		{"note without incidentId", hookToken, `{"callId":"c","note":{"type":"INFO","note":"x","createdAt":"2026-11-25T10:00:00Z"}}`, http.StatusBadRequest},
		{"body too large", hookToken, big, http.StatusRequestEntityTooLarge},
		{"duplicate of the good note", "Bearer " + hookToken, noteBody("INC-1", "first"), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, e.hookURL, tt.auth, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if after := e.stats(t); after.Pending[outbox.TopicNote] != 1 || after.PendingBytes != before.PendingBytes {
				t.Fatalf("outbox changed: before %+v after %+v", before, after)
			}
		})
	}
	// The refused notes left no idempotency key behind either.
	for _, txt := range []string{"bad", strings.Repeat("x", 2048)} {
		n := assist.IncidentNote{Type: "INFO", Note: txt, Critical: true, CreatedAt: "2026-11-25T10:00:00Z"}
		if seen, err := e.s.Store().Seen(assist.PushedNoteKey("INC-2", "call-1", n)); err != nil || seen {
			t.Fatalf("refused note recorded as seen=%v err=%v", seen, err)
		}
	}
	if got := e.metric(t, "cad_sidecar_notes_received_total", "source", "push", "result", "duplicate"); got != 1 {
		t.Fatalf("duplicates counted %v, want 1", got)
	}
}

// Past outbox.max_bytes the webhook answers 503 with Retry-After and stores nothing.
func TestWebhookOutboxFull(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Outbox.MaxBytes = 600 }})
	id := e.cad.AddIncident()
	var full *http.Response
	accepted := 0
	for i := range 20 {
		resp, _ := post(t, e.hookURL, hookToken, noteBody(id, "note "+strings.Repeat("n", i)))
		if resp.StatusCode == http.StatusServiceUnavailable {
			full = resp
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("note %d: %d", i, resp.StatusCode)
		}
		accepted++
	}
	if full == nil {
		t.Fatal("outbox never reported full")
	}
	if full.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	before := e.stats(t)
	resp, _ := post(t, e.hookURL, hookToken, noteBody(id, "one more"))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if after := e.stats(t); after.PendingBytes != before.PendingBytes || after.Pending[outbox.TopicNote] != before.Pending[outbox.TopicNote] {
		t.Fatalf("a refused note changed the outbox: %+v → %+v", before, after)
	}
	// Once the CAD is back the backlog drains and notes are accepted again.
	e.cad.SetDown(false)
	waitFor(t, 10*time.Second, "backlog drained", func() bool { return e.stats(t).Pending[outbox.TopicNote] == 0 })
	if got := len(e.cad.Notes(id)); got != accepted {
		t.Fatalf("CAD has %d notes, %d were accepted", got, accepted)
	}
	if resp, _ := post(t, e.hookURL, hookToken, noteBody(id, "after recovery")); resp.StatusCode != http.StatusOK {
		t.Fatalf("after recovery: %d", resp.StatusCode)
	}
}

// cad_sidecar_webhook_events_total counts accepted events (README): a webhook refused
// with 503 because the outbox is full was not accepted and is not counted.
func TestWebhookEventsMetricCountsAcceptedOnly(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Outbox.MaxBytes = 600 }})
	accepted, refused := 0, 0
	for i := range 20 {
		resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-1", "note "+strings.Repeat("n", i)))
		switch resp.StatusCode {
		case http.StatusOK:
			accepted++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("note %d: %d", i, resp.StatusCode)
		}
	}
	if refused == 0 {
		t.Fatal("outbox never reported full")
	}
	if got := e.metric(t, "cad_sidecar_webhook_events_total", "event", "note"); got != float64(accepted) {
		t.Fatalf("webhook_events_total{event=note} = %v, want %d accepted (%d refused with 503)", got, accepted, refused)
	}
}

// A stored note that cannot be decoded goes to the dead letters with a reason that names
// its incident, so an operator knows which CAD incident is missing a note.
func TestUndecodableStoredNoteNamesIncident(t *testing.T) {
	e := start(t, envOptions{})
	st := e.s.Store()
	if _, err := st.Enqueue(t.Context(), outbox.TopicNote, "INC-BROKEN", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	var dead []outbox.DeadLetter
	waitFor(t, 10*time.Second, "the dead letter", func() bool {
		var err error
		dead, err = st.DeadLetters(outbox.TopicNote)
		return err == nil && len(dead) == 1
	})
	if !strings.Contains(dead[0].Reason, "INC-BROKEN") {
		t.Fatalf("dead letter reason %q does not name the incident", dead[0].Reason)
	}
}
