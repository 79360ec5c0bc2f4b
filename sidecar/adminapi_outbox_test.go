package sidecar_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// Two notes the CAD refuses (503, no Retry-After) wait an hour for their next attempt
// (outbox.retry.initial 1h). The listing shows them without their payload unless
// content=1; after POST /api/v1/outbox/retry both are written at once.
func TestAdminOutboxListAndRetry(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Outbox.Retry.Initial, c.Outbox.Retry.Max = time.Hour, 2*time.Hour }})
	e.cad.SetRefuseNotes("hold")
	ids := []string{e.cad.AddIncident(), e.cad.AddIncident()}
	for i, id := range ids {
		if resp, body := post(t, e.hookURL, hookToken, noteBodyAt(id, "hold-"+id, i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %d %s", resp.StatusCode, body)
		}
	}
	var page sidecar.OutboxPage
	var raw string
	waitFor(t, 15*time.Second, "both notes failed once and waiting", func() bool {
		_, raw = e.api(t, "GET", "/api/v1/outbox?topic=note", "", &page)
		waiting := 0
		for _, m := range page.Messages {
			if m.Attempts >= 1 && m.NextAttemptAt != nil && time.Until(*m.NextAttemptAt) > 10*time.Minute {
				waiting++
			}
		}
		return waiting == 2
	})
	if strings.Contains(raw, "hold-") || strings.Contains(raw, `"payload"`) {
		t.Fatalf("the listing without content=1 shows the payload: %s", raw)
	}
	for _, m := range page.Messages {
		if m.Topic != "note" || !strings.HasPrefix(m.ID, "note-") || m.Key == "" || m.CreatedAt.IsZero() || m.LastError == "" {
			t.Errorf("message %+v: want topic, id, key, created_at and the last error", m)
		}
	}
	var withContent sidecar.OutboxPage
	e.api(t, "GET", "/api/v1/outbox?topic=note&content=1", "", &withContent)
	if len(withContent.Messages) == 0 || !strings.Contains(string(withContent.Messages[0].Payload), "hold-") {
		t.Fatalf("content=1: %+v, want the payloads", withContent)
	}
	for _, bad := range []string{"topic=bogus", "limit=0", "after=note-x", "content=maybe"} {
		if code, _ := e.api(t, "GET", "/api/v1/outbox?"+bad, "", nil); code != http.StatusBadRequest {
			t.Errorf("outbox?%s: %d, want 400", bad, code)
		}
	}
	if code, _ := e.api(t, "POST", "/api/v1/outbox/retry", `{"topic":"bogus"}`, nil); code != http.StatusBadRequest {
		t.Errorf("retry of an unknown topic: %d, want 400", code)
	}

	e.cad.SetRefuseNotes("")
	var got struct{ Retried map[string]int }
	if code, body := e.api(t, "POST", "/api/v1/outbox/retry", "{}", &got); code != http.StatusOK || got.Retried["note"] != 2 {
		t.Fatalf("retry: %d %s, want 2 notes retried", code, body)
	}
	waitFor(t, 10*time.Second, "both notes written after the retry (their backoff was an hour)", func() bool {
		return hasNote(e.cad, ids[0], "hold-"+ids[0]) && hasNote(e.cad, ids[1], "hold-"+ids[1])
	})
}

// A paged listing (limit 1) walks every pending message once, in queue order.
func TestAdminOutboxPaging(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Outbox.Retry.Initial, c.Outbox.Retry.Max = time.Hour, 2*time.Hour }})
	for i, id := range []string{"INC-P1", "INC-P2", "INC-P3"} {
		if resp, body := post(t, e.hookURL, hookToken, noteBodyAt(id, "paged", i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %d %s", resp.StatusCode, body)
		}
	}
	var seen []string
	after := ""
	for range 10 {
		var page sidecar.OutboxPage
		path := "/api/v1/outbox?limit=1"
		if after != "" {
			path += "&after=" + after
		}
		e.api(t, "GET", path, "", &page)
		for _, m := range page.Messages {
			seen = append(seen, m.Key)
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if strings.Join(seen, ",") != "INC-P1,INC-P2,INC-P3" {
		t.Fatalf("paged listing: %v", seen)
	}
}

func hasNote(cad *sim.CAD, incident, marker string) bool {
	for _, n := range cad.Notes(incident) {
		if strings.Contains(n.Text, marker) {
			return true
		}
	}
	return false
}
