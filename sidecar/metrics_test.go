package sidecar_test

import (
	"net/http"
	"testing"
	"time"
)

// The outbox gauges are read at scrape time; the refusal counter counts by status code.
func TestOutboxAndRefusalMetrics(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	for _, code := range []string{"400", "401", "413", "503"} {
		if got := e.metric(t, "cad_sidecar_webhook_refused_total", "code", code); got != 0 {
			t.Fatalf("webhook_refused_total{code=%s} = %v at start", code, got)
		}
	}
	if got := e.metric(t, "cad_sidecar_outbox_depth", "topic", "note"); got != 0 {
		t.Fatalf("depth at start = %v", got)
	}
	for _, txt := range []string{"a", "b"} {
		if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-1", txt)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d", resp.StatusCode)
		}
	}
	if got := e.metric(t, "cad_sidecar_outbox_depth", "topic", "note"); got != 2 {
		t.Fatalf("cad_sidecar_outbox_depth{topic=note} = %v, want 2", got)
	}
	waitFor(t, 10*time.Second, "an oldest age above 0", func() bool {
		return e.metric(t, "cad_sidecar_outbox_oldest_age_seconds", "topic", "note") > 0
	})
	if got := e.metric(t, "cad_sidecar_outbox_oldest_age_seconds", "topic", "link"); got != 0 {
		t.Fatalf("oldest age of the empty link topic = %v", got)
	}
	if got := e.metric(t, "cad_sidecar_dead_letters", "topic", "note"); got != 0 {
		t.Fatalf("dead letters = %v", got)
	}
	if got := e.metric(t, "cad_sidecar_notes_given_up_total", "topic", "note"); got != 0 {
		t.Fatalf("cad_sidecar_notes_given_up_total{topic=note} = %v at start", got)
	}

	// One wrong token, two malformed bodies.
	post(t, e.hookURL, "Bearer wrong-token-wrong-token", noteBody("INC-1", "x"))
	post(t, e.hookURL, hookToken, `{"callId":`)
	post(t, e.hookURL, hookToken, `{"hello":"world"}`)
	if got := e.metric(t, "cad_sidecar_webhook_refused_total", "code", "401"); got != 1 {
		t.Fatalf("webhook_refused_total{code=401} = %v, want 1", got)
	}
	if got := e.metric(t, "cad_sidecar_webhook_refused_total", "code", "400"); got != 2 {
		t.Fatalf("webhook_refused_total{code=400} = %v, want 2", got)
	}
}
