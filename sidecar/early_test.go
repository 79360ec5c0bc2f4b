package sidecar_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// An assistant activation that arrives before its call is linked (the CAD incident is often
// created during the call) is kept, and its note is written once the link exists.
func TestActivationBeforeLink(t *testing.T) {
	fixedCall := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/cad/incident" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"incidentId": "x", "callId": "call-early"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, envOptions{wrapAssist: fixedCall, mapping: `
mapping:
  incident_id: IncidentNumber
  fields: [{name: N, from: IncidentNumber}]
  note:
    activation: {enabled: true, text: "assistant {{.AssistantName}}"}
`})
	resp, body := post(t, e.hookURL, hookToken, `{"callId":"call-early","assistantId":5,"assistantName":"Fire","assistantActivationExplanation":"smoke"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("activation webhook: %d %s", resp.StatusCode, body)
	}
	id := e.cad.AddIncident()
	waitFor(t, 10*time.Second, "the activation note", func() bool {
		n := e.cad.Notes(id)
		return len(n) == 1 && n[0].Text == "assistant Fire"
	})
	// The kept activation is deleted after its note was queued, so the note can reach the
	// CAD first: wait for the delete, bounded.
	waitFor(t, 10*time.Second, "the kept activation cleared", func() bool {
		_, _, ok, _ := e.s.Store().Unlinked("activation", "call-early")
		return !ok
	})
}

// In pull mode a call is polled until assist.pull.max_age after its link when no end was
// seen; older ones are left alone.
func TestPullStopsAtMaxAge(t *testing.T) {
	e := start(t, envOptions{notes: "pull", cadDown: true})
	for _, l := range []outbox.Link{
		{IncidentID: "old", CallID: "c-old", LinkedAt: time.Now().Add(-7 * time.Hour)},
		{IncidentID: "fresh", CallID: "c-fresh"},
	} {
		if err := e.s.Store().PutLink(l); err != nil {
			t.Fatal(err)
		}
	}
	// The simulated Assist does not know either call: each pull logs a 404.
	waitFor(t, 10*time.Second, "two pulls of the fresh call", func() bool {
		return strings.Count(e.logs.String(), `notes pull failed" call_id=c-fresh`) >= 2
	})
	if strings.Contains(e.logs.String(), "call_id=c-old") {
		t.Fatal("a call linked 7h ago (max_age 6h) was polled")
	}
}
