package assist

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

func TestDecodeEvent(t *testing.T) {
	cases := []struct {
		name string
		body string
		want Event
	}{
		{"note", `{"callId":"c1","incidentId":"INC-1","note":{"type":"INFO","note":"gas leak","critical":true,"createdAt":"2024-05-01T10:00:00Z"}}`,
			Event{Kind: EventNote, Note: &IncidentNotePayload{CallID: "c1", IncidentID: "INC-1", Note: IncidentNote{Type: NoteInfo, Note: "gas leak", Critical: true, CreatedAt: "2024-05-01T10:00:00Z"}}}},
		{"note snake_case, numeric incident, extra fields", `{"call_id":"c1","incident_id":4711,"v":2,"note":{"type":"CALL_COMPLETED","note":"done","created_at":"2024-05-01T10:00:00Z","lang":"en"}}`,
			Event{Kind: EventNote, Note: &IncidentNotePayload{CallID: "c1", IncidentID: "4711", Note: IncidentNote{Type: NoteCallCompleted, Note: "done", CreatedAt: "2024-05-01T10:00:00Z"}}}},
		{"note with noteId and string critical", `{"callId":"c1","incidentId":"I","note":{"noteId":"n1","type":"INFO","note":"x","critical":"true","createdAt":"t"}}`,
			Event{Kind: EventNote, Note: &IncidentNotePayload{CallID: "c1", IncidentID: "I", Note: IncidentNote{NoteID: "n1", Type: NoteInfo, Note: "x", Critical: true, CreatedAt: "t"}}}},
		{"note of a type Assist may add later is kept", `{"callId":"c1","incidentId":"I","note":{"type":"HAZARD","note":"x","createdAt":"t"}}`,
			Event{Kind: EventNote, Note: &IncidentNotePayload{CallID: "c1", IncidentID: "I", Note: IncidentNote{Type: "HAZARD", Note: "x", CreatedAt: "t"}}}},
		{"status", `{"callId":"c2","status":"STARTED"}`,
			Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c2", Status: CallStarted}}},
		{"status ended", `{"callId":"c2","status":"ENDED","at":"x"}`,
			Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c2", Status: CallEnded}}},
		{"activation", `{"callId":"c3","assistantId":12,"assistantName":"Fire","assistantActivationExplanation":"smoke mentioned"}`,
			Event{Kind: EventActivation, Activation: &AssistantActivationWebhook{CallID: "c3", AssistantID: 12, AssistantName: "Fire", AssistantActivationExplanation: "smoke mentioned"}}},
		{"activation name only", `{"callId":"c3","assistantName":"EMS"}`,
			Event{Kind: EventActivation, Activation: &AssistantActivationWebhook{CallID: "c3", AssistantName: "EMS"}}},
		{"activation string id", `{"callId":"c3","assistantId":"99"}`,
			Event{Kind: EventActivation, Activation: &AssistantActivationWebhook{CallID: "c3", AssistantID: 99}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEvent([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if got.CallID() == "" {
				t.Error("CallID() empty")
			}
		})
	}
}

func TestDecodeEventErrors(t *testing.T) {
	const secret = "caller name is John Doe"
	cases := []struct {
		name, body, want string
	}{
		{"empty", ``, "empty body"},
		{"malformed", `{"callId":`, "malformed JSON"},
		{"array", `[{"callId":"c"}]`, "not a JSON object"},
		{"unknown shape", `{"callId":"c","foo":1}`, "unknown event"},
		{"note missing callId", `{"incidentId":"I","note":{"type":"INFO","note":"` + secret + `","createdAt":"t"}}`, "callId: missing"},
		{"note empty callId", `{"callId":" ","incidentId":"I","note":{"type":"INFO","note":"` + secret + `","createdAt":"t"}}`, "callId: empty"},
		{"note missing incidentId", `{"callId":"c","note":{"type":"INFO","note":"` + secret + `","createdAt":"t"}}`, "incidentId: missing"},
		{"note not an object", `{"callId":"c","incidentId":"I","note":"` + secret + `"}`, "note: not a JSON object"},
		{"note type not a string", `{"callId":"c","incidentId":"I","note":{"type":7,"note":"` + secret + `","createdAt":"t"}}`, "note.type: want a string"},
		{"note missing type", `{"callId":"c","incidentId":"I","note":{"note":"` + secret + `","createdAt":"t"}}`, "note.type: missing"},
		{"note empty text", `{"callId":"c","incidentId":"I","note":{"type":"INFO","note":"","createdAt":"t"}}`, "note.note: empty"},
		{"note text not a string", `{"callId":"c","incidentId":"I","note":{"type":"INFO","note":["` + secret + `"],"createdAt":"t"}}`, "note.note: want a string"},
		{"note missing createdAt", `{"callId":"c","incidentId":"I","note":{"type":"INFO","note":"` + secret + `"}}`, "note.createdAt: missing"},
		{"note bad critical", `{"callId":"c","incidentId":"I","note":{"type":"INFO","note":"` + secret + `","createdAt":"t","critical":"` + secret + `"}}`, "note.critical: want a bool"},
		{"status missing callId", `{"status":"STARTED"}`, "callId: missing"},
		{"status bad value", `{"callId":"c","status":"PAUSED"}`, "status: want STARTED or ENDED"},
		{"activation missing callId", `{"assistantId":1}`, "callId: missing"},
		{"activation bad id", `{"callId":"c","assistantId":"abc"}`, "assistantId: want an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tc.body))
			if err == nil {
				t.Fatal("want error")
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error does not wrap ErrInvalidEvent: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "John") {
				t.Errorf("error quotes note text: %q", err)
			}
		})
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{EventNote: "note", EventCallStatus: "call_status", EventActivation: "activation", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

// The one-pass decoder gives exactly what the field-by-field decoder gives, whenever it
// takes an input at all.
func FuzzDecodeNoteFast(f *testing.F) {
	for _, s := range []string{
		`{"callId":"c1","incidentId":"INC-1","note":{"type":"INFO","note":"gas leak","critical":true,"createdAt":"2024-05-01T10:00:00Z"}}`,
		`{"callId":"c1","incidentId":"I","note":{"noteId":"n1","type":"INFO","note":"x","critical":"true","createdAt":"t"}}`,
		`{"callId":"c1","incidentId":"I","status":"STARTED","note":{"type":"X","note":"x","createdAt":"t","noteId":""}}`,
		`{"callId":"c1","incidentId":" ","note":{"type":"INFO","note":"x","createdAt":"t"}}`,
		`{"CALLID":"c1","incidentId":"I","note":{"type":"INFO","note":"x","createdAt":"t","critical":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if ev, err := DecodeEvent(body); err == nil { // what is accepted has ids that are ids
			if ident.Check("callId", ev.CallID()) != nil || ev.Note != nil && ident.Check("incidentId", ev.Note.IncidentID) != nil {
				t.Fatalf("accepted bad ids: %q", body)
			}
		}
		fast, ok := decodeNoteFast(body)
		if !ok {
			return
		}
		slow, err := decodeLenient(body)
		if err != nil {
			t.Fatalf("fast path accepted what the lenient one refuses (%v): %s", err, body)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v\nbody %s", *fast.Note, *slow.Note, body)
		}
	})
}
