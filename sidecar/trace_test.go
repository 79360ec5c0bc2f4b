package sidecar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// getTrace reads GET /api/v1/trace/{id}: the status, the trace and the raw answer.
func (e *env) getTrace(t *testing.T, id string) (int, sidecar.Trace, string) {
	t.Helper()
	var tr sidecar.Trace
	code, raw := e.api(t, "GET", "/api/v1/trace/"+id, "", &tr)
	return code, tr, raw
}

// One incident through the whole flow with the simulated CAD and Assist: its trace holds
// the poll, the mapping, the link (queued, sent, answered), the call's start and end, and
// each note received, written and delivered, in that order, with no note text.
func TestTraceFullFlow(t *testing.T) {
	e := start(t, envOptions{register: true, noteEvery: 300 * time.Millisecond})
	id := e.cad.AddIncident()
	var tr sidecar.Trace
	var raw string
	waitFor(t, 30*time.Second, "the call's end and its 4 notes delivered in the trace", func() bool {
		var code int
		code, tr, raw = e.getTrace(t, id)
		return code == http.StatusOK && count(tr, "note_delivered") == 4 && count(tr, "call_ended") == 1
	})
	if tr.IncidentID != id || tr.Truncated {
		t.Fatalf("trace of %s: incident %q, truncated %v", id, tr.IncidentID, tr.Truncated)
	}
	// The flow's milestones, in order.
	want := []string{"polled", "mapped", "link_queued", "link_sent", "linked", "call_started", "note_received", "note_write", "note_delivered", "call_ended"}
	at := -1
	for _, k := range want {
		i := indexAfter(tr, k, at)
		if i < 0 {
			t.Fatalf("trace has no %q after event %d:\n%s", k, at, kinds(tr))
		}
		at = i
	}
	// Each note: received, then written, then delivered; times never go back.
	for i, ev := range tr.Events {
		if i > 0 && ev.At.Before(tr.Events[i-1].At) {
			t.Errorf("event %d (%s) at %v is before event %d", i, ev.Kind, ev.At, i-1)
		}
		if ev.Kind != "note_delivered" {
			continue
		}
		recv, write := -1, -1
		for j := range i {
			if tr.Events[j].NoteID == ev.NoteID {
				switch tr.Events[j].Kind {
				case "note_received":
					recv = j
				case "note_write":
					write = j
				}
			}
		}
		if recv < 0 || write < recv || ev.NoteID == "" || ev.NoteType == "" {
			t.Errorf("note %q delivered at %d: received at %d, written at %d (type %q)", ev.NoteID, i, recv, write, ev.NoteType)
		}
	}
	if ev := tr.Events[indexAfter(tr, "linked", -1)]; ev.CallID == "" {
		t.Errorf("linked event without the call id: %+v", ev)
	}
	for _, n := range e.cad.Notes(id) {
		if _, text, ok := strings.Cut(n.Text, "|"); ok && len(text) > 3 && strings.Contains(raw, text) {
			t.Errorf("the trace shows note text %q", text)
		}
	}
	// The link's last note is the last one delivered, as the trace says.
	var links sidecar.LinkPage
	e.api(t, "GET", "/api/v1/links?incident="+id, "", &links)
	if len(links.Links) != 1 || links.Links[0].LastNote == nil || links.Links[0].LastNote.State != "delivered" ||
		links.Links[0].LastNote.Type != "CALL_COMPLETED" || links.Links[0].CallStatus != "ENDED" {
		t.Errorf("links?incident=%s: %+v", id, links)
	}
	if code, _, body := e.do(t, "GET", "/api/v1/trace/NO-SUCH-INCIDENT", ""); code != http.StatusNotFound || !strings.Contains(body, "no trace for incident NO-SUCH-INCIDENT") {
		t.Errorf("trace of an unknown incident: %d %s", code, body)
	}
}

// An incident's trace keeps its newest sidecar.TraceMaxEvents events and says it was
// truncated; pruning the incident's state forgets its trace.
func TestTraceBoundedAndPruned(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	const id = "INC-MANY"
	n := sidecar.TraceMaxEvents + 10
	for i := range n {
		body := fmt.Sprintf(`{"callId":"call-1","incidentId":%q,"note":{"type":"INFO","note":"n%d","critical":false,"createdAt":"2026-11-25T10:%02d:%02dZ"}}`, id, i, i/60, i%60)
		if resp, b := post(t, e.hookURL, hookToken, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, b)
		}
	}
	code, tr, raw := e.getTrace(t, id)
	if code != http.StatusOK || len(tr.Events) != sidecar.TraceMaxEvents || !tr.Truncated {
		t.Fatalf("trace after %d notes: %d, %d events, truncated %v; want %d events, truncated", n, code, len(tr.Events), tr.Truncated, sidecar.TraceMaxEvents)
	}
	if count(tr, "note_received") < sidecar.TraceMaxEvents/2 || strings.Contains(raw, `n20`) {
		t.Fatalf("want mostly note_received events and no note text: %s", raw)
	}

	// An incident whose state is older than outbox.state_retention: pruned with its trace.
	old := time.Now().Add(-e.cfg.Outbox.StateRetention - time.Hour)
	if err := e.s.Store().PutLink(outbox.Link{IncidentID: id, CallID: "call-1", LinkedAt: old, UpdatedAt: old}); err != nil {
		t.Fatal(err)
	}
	e.s.PruneState(context.Background())
	if code, _, _ := e.getTrace(t, id); code != http.StatusNotFound {
		t.Fatalf("trace after pruning the incident's state: %d, want 404", code)
	}
}

func count(tr sidecar.Trace, kind string) int {
	n := 0
	for _, ev := range tr.Events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func indexAfter(tr sidecar.Trace, kind string, after int) int {
	for i := after + 1; i < len(tr.Events); i++ {
		if tr.Events[i].Kind == kind {
			return i
		}
	}
	return -1
}

func kinds(tr sidecar.Trace) string {
	b, _ := json.MarshalIndent(tr.Events, "", " ")
	return string(b)
}
