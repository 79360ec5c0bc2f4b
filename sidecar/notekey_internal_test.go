package sidecar

import (
	"testing"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// TestDeliveryKey: the key a queued note is written with, for payloads with and without a
// stored key (queued by this version or by an earlier one).
func TestDeliveryKey(t *testing.T) {
	note := assist.IncidentNotePayload{IncidentID: "INC-1", CallID: "call-legacy",
		Note: assist.IncidentNote{Type: "INFO", Note: "queued by the previous version", CreatedAt: "2026-11-25T12:00:00+02:00"}}
	act := &assist.AssistantActivationWebhook{CallID: "call-1", AssistantID: 15, AssistantName: "a", AssistantActivationExplanation: "b"}
	cases := []struct {
		name string
		q    queuedNote
		want string
	}{
		{"note without a stored key: the previous version's key (no incident id)", queuedNote{IncidentNotePayload: note},
			"h:617eea46cd61ee263455d3fa36c97c676c7224849ba27a47005c4cc00b5c5288"},
		{"note with a stored key", queuedNote{IncidentNotePayload: note, Key: "h:stored"}, "h:stored"},
		{"call status without a stored key", queuedNote{IncidentNotePayload: note, Event: "call_status", Status: "ENDED"}, "status:call-legacy/ENDED"},
		{"activation without a stored key", queuedNote{IncidentNotePayload: note, Event: "activation", Activation: act}, activationKey(*act)},
		{"activation with a stored key", queuedNote{IncidentNotePayload: note, Event: "activation", Activation: act, Key: "k"}, "k"},
	}
	for _, c := range cases {
		if got := deliveryKey(c.q); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got, old := idempotencyKey(queuedNote{IncidentNotePayload: note}), deliveryKey(queuedNote{IncidentNotePayload: note}); got != assist.PushedNoteKey(note.IncidentID, note.CallID, note.Note) || got == old {
		t.Errorf("the key stored at enqueue is %q, want the current format (not %q)", got, old)
	}
}
