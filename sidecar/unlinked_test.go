package sidecar_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Call statuses and assistant activations that arrive for a call that is never linked
// expire after outbox.unlinked_retention and count toward outbox.max_bytes (issue 7,
// item 8).

const activationMapping = `
mapping:
  incident_id: IncidentNumber
  fields: [{name: N, from: IncidentNumber}]
  note:
    activation: {enabled: true, text: "assistant {{.AssistantName}}"}
`

func activationBody(callID string) string {
	return fmt.Sprintf(`{"callId":%q,"assistantId":5,"assistantName":"Fire","assistantActivationExplanation":"smoke"}`, callID)
}

// An activation for a call never linked is forgotten by the state pruning once older than
// outbox.unlinked_retention: logged with its call id at info, counted, its bytes freed.
func TestUnlinkedActivationExpires(t *testing.T) {
	e := start(t, envOptions{cadDown: true, mapping: activationMapping,
		edit: func(c *config.Config) { c.Outbox.UnlinkedRetention = time.Nanosecond }})
	st := e.s.Store()
	if resp, body := post(t, e.hookURL, hookToken, activationBody("call-never")); resp.StatusCode != http.StatusOK {
		t.Fatalf("activation webhook: %d %s", resp.StatusCode, body)
	}
	if _, _, ok, err := st.Unlinked("activation", "call-never"); !ok || err != nil {
		t.Fatalf("activation not kept: %v, %v", ok, err)
	}
	if st.UnlinkedBytes() == 0 {
		t.Fatal("kept activation counts 0 bytes")
	}
	e.s.PruneState(t.Context())
	if _, _, ok, _ := st.Unlinked("activation", "call-never"); ok {
		t.Fatal("activation of a call never linked still kept after the retention")
	}
	if got := st.UnlinkedBytes(); got != 0 {
		t.Fatalf("unlinked bytes after expiry = %d", got)
	}
	if got := e.metric(t, "cad_sidecar_unlinked_events_expired_total", "kind", "activation"); got != 1 {
		t.Fatalf("unlinked_events_expired_total{kind=activation} = %v, want 1", got)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=INFO msg=\"call never linked: kept activation forgotten\" call_id=call-never") {
		t.Fatalf("no info line with the call id:\n%s", logs)
	}
}

// A call status for a call never linked expires the same way and is not applied if the
// call is linked after that.
func TestUnlinkedCallStatusExpires(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Outbox.UnlinkedRetention = time.Nanosecond }})
	st := e.s.Store()
	if resp, body := post(t, e.hookURL, hookToken, `{"callId":"call-never","status":"STARTED"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("status webhook: %d %s", resp.StatusCode, body)
	}
	if st.UnlinkedBytes() == 0 {
		t.Fatal("kept status counts 0 bytes")
	}
	e.s.PruneState(t.Context())
	if got := e.metric(t, "cad_sidecar_unlinked_events_expired_total", "kind", "call_status"); got != 1 {
		t.Fatalf("unlinked_events_expired_total{kind=call_status} = %v, want 1", got)
	}
	if got := st.UnlinkedBytes(); got != 0 {
		t.Fatalf("unlinked bytes after expiry = %d", got)
	}
	if !strings.Contains(e.logs.String(), "kept call_status forgotten\" call_id=call-never") {
		t.Fatalf("no info line with the call id:\n%s", e.logs.String())
	}
	if err := st.PutLink(outbox.Link{IncidentID: "late", CallID: "call-never"}); err != nil {
		t.Fatal(err)
	}
	if l, _, _ := st.GetLink("late"); l.Status != "" {
		t.Fatalf("expired status applied to a later link: %+v", l)
	}
}

// With a small outbox.max_bytes, kept activations use the budget: past it a new
// activation, an early call status and a note are all refused with 503 + Retry-After
// (nothing stored); once they expire, notes are accepted again.
func TestUnlinkedStateCountsTowardMaxBytes(t *testing.T) {
	e := start(t, envOptions{cadDown: true, mapping: activationMapping,
		edit: func(c *config.Config) { c.Outbox.MaxBytes = 600 }})
	st := e.s.Store()
	var full *http.Response
	for i := range 50 {
		resp, body := post(t, e.hookURL, hookToken, activationBody(fmt.Sprintf("call-%d", i)))
		if resp.StatusCode == http.StatusServiceUnavailable {
			full = resp
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("activation %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if full == nil {
		t.Fatalf("50 kept activations (%d bytes) never filled max_bytes 600", st.UnlinkedBytes())
	}
	if full.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	before := st.UnlinkedBytes()
	if resp, _ := post(t, e.hookURL, hookToken, `{"callId":"call-x","status":"STARTED"}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("early call status past the budget: %d, want 503", resp.StatusCode)
	}
	if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-1", "refused")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("note past the budget (all of it kept activations): %d, want 503", resp.StatusCode)
	}
	if got := st.UnlinkedBytes(); got != before {
		t.Fatalf("refused events changed the unlinked bytes: %d → %d", before, got)
	}
	if s := e.stats(t); s.Pending[outbox.TopicNote] != 0 {
		t.Fatalf("refused note stored: %+v", s)
	}
	e.cfg.Outbox.UnlinkedRetention = time.Nanosecond
	e.s.PruneState(t.Context())
	if resp, body := post(t, e.hookURL, hookToken, noteBody("INC-1", "accepted")); resp.StatusCode != http.StatusOK {
		t.Fatalf("note after the activations expired: %d %s", resp.StatusCode, body)
	}
}

// An activation kept and linked within the retention survives the pruning and still
// becomes its note.
func TestUnlinkedActivationLinkedWithinRetention(t *testing.T) {
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
	e := start(t, envOptions{wrapAssist: fixedCall, mapping: activationMapping})
	for _, call := range []string{"call-early", "call-other"} {
		if resp, body := post(t, e.hookURL, hookToken, activationBody(call)); resp.StatusCode != http.StatusOK {
			t.Fatalf("activation webhook %s: %d %s", call, resp.StatusCode, body)
		}
	}
	e.s.PruneState(t.Context())
	if got := e.metric(t, "cad_sidecar_unlinked_events_expired_total", "kind", "activation"); got != 0 {
		t.Fatalf("activations within the retention expired: %v", got)
	}
	id := e.cad.AddIncident()
	waitFor(t, 10*time.Second, "the activation note", func() bool {
		n := e.cad.Notes(id)
		return len(n) == 1 && n[0].Text == "assistant Fire"
	})
	// The kept activation is deleted after its note was queued, so the note can reach the
	// CAD first: wait for the delete, bounded.
	waitFor(t, 10*time.Second, "the kept activation cleared once written", func() bool {
		_, _, ok, _ := e.s.Store().Unlinked("activation", "call-early")
		return !ok
	})
	if _, _, ok, _ := e.s.Store().Unlinked("activation", "call-other"); !ok {
		t.Fatal("the other call's activation (not linked) was lost")
	}
}
