package sidecar_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// TestNoteKeyFixedAtEnqueue: the Idempotency-Key a note is written into the CAD with is
// the one stored with it when it was queued. A payload with a stored key is sent with it
// (not with a key computed again at delivery); a payload queued by a version that stored
// none is sent with the key that version computed (no incident id in it), so a note in
// flight across the upgrade keeps its key; a note received now stores and sends the
// current key. The three wait in one incident's queue, one after the other.
func TestNoteKeyFixedAtEnqueue(t *testing.T) {
	e := start(t, envOptions{cadDown: true}) // nothing is delivered until all are queued
	inc := e.cad.AddIncident()
	const legacyKey = "h:617eea46cd61ee263455d3fa36c97c676c7224849ba27a47005c4cc00b5c5288" // computed by the previous version's code
	cases := []struct {
		name, payload, text, want string
	}{
		{"queued by the previous version (no key stored)",
			`{"callId":"call-legacy","incidentId":"` + inc + `","note":{"type":"INFO","note":"queued by the previous version","critical":false,"createdAt":"2026-11-25T12:00:00+02:00"}}`,
			"queued by the previous version", legacyKey},
		{"key stored at enqueue",
			`{"callId":"call-stored","incidentId":"` + inc + `","note":{"type":"INFO","note":"with its key stored","critical":false,"createdAt":"2026-11-25T10:00:01Z"},"key":"h:stored-at-enqueue"}`,
			"with its key stored", "h:stored-at-enqueue"},
	}
	for _, c := range cases {
		if _, err := e.s.Store().Enqueue(context.Background(), outbox.TopicNote, inc, []byte(c.payload)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	postNote(t, e, inc, "received by this version", false)
	ms, err := e.s.Store().Pending(outbox.TopicNote, 0)
	if err != nil {
		t.Fatal(err)
	}
	var current string
	for _, m := range ms {
		if strings.Contains(string(m.Payload), "received by this version") {
			if !strings.Contains(string(m.Payload), `"key":"h:`) {
				t.Fatalf("the queued payload of a note received now holds no key: %s", m.Payload)
			}
			var p assist.IncidentNotePayload
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			current = assist.PushedNoteKey(p.IncidentID, p.CallID, p.Note)
		}
	}
	if current == "" || current == legacyKey {
		t.Fatalf("no queued note received now (key %q) among %d pending", current, len(ms))
	}
	cases = append(cases, struct{ name, payload, text, want string }{"received by this version", "", "received by this version", current})

	e.cad.SetDown(false)
	for _, c := range cases {
		var got []sim.CADNote
		waitFor(t, 30*time.Second, "the note "+c.name+" in the CAD", func() bool {
			got = got[:0]
			for _, n := range e.cad.Notes(inc) {
				if strings.Contains(n.Text, c.text) {
					got = append(got, n)
				}
			}
			return len(got) > 0
		})
		if len(got) != 1 || got[0].Key != c.want {
			t.Errorf("%s: written %d times, Idempotency-Key %q; want once with %q", c.name, len(got), got[0].Key, c.want)
		}
	}
}
