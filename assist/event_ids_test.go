package assist

import (
	"errors"
	"strings"
	"testing"
)

// Ids that would reach the CAD as another resource (".", ".."), that are unbounded, not
// UTF-8 or carry control characters are refused, with the field named; so is invalid UTF-8
// anywhere in the body (json.Unmarshal would silently turn it into U+FFFD and the note
// would go to another incident). Every shape of event is covered, on the fast path
// (canonical note) and the lenient one (snake_case, numbers, other events).
func TestDecodeEventRefusesBadIDs(t *testing.T) {
	note := func(call, incident string) string {
		return `{"callId":` + call + `,"incidentId":` + incident + `,"note":{"type":"INFO","note":"caller text","createdAt":"2024-05-01T10:00:00Z"}}`
	}
	long := `"` + strings.Repeat("7", 5000) + `"`
	cases := []struct {
		name, body, want string
	}{
		{"incidentId dot dot", note(`"c1"`, `".."`), `incidentId: ".." is not an id`},
		{"incidentId dot", note(`"c1"`, `"."`), `incidentId: "." is not an id`},
		{"incidentId 5000 chars", note(`"c1"`, long), "incidentId: 5000 bytes, longer than 256"},
		{"incidentId 5000 digits as a number", note(`"c1"`, strings.Trim(long, `"`)), "incidentId: 5000 bytes"},
		{"incidentId invalid UTF-8", note(`"c1"`, "\"inv3\xff\""), "not valid UTF-8"},
		{"incidentId escaped control character", note(`"c1"`, `"INC\u0000"`), "incidentId: control character U+0000"},
		{"incidentId blank", note(`"c1"`, `" "`), "incidentId: empty"},
		{"callId dot dot", note(`".."`, `"INC-1"`), `callId: ".." is not an id`},
		{"callId too long", note(long, `"INC-1"`), "callId: 5000 bytes"},
		{"snake_case incident_id dot dot", `{"call_id":"c1","incident_id":"..","note":{"type":"INFO","note":"x","created_at":"t"}}`, `incidentId: ".." is not an id`},
		{"invalid UTF-8 in the note text", "{\"callId\":\"c1\",\"incidentId\":\"I\",\"note\":{\"type\":\"INFO\",\"note\":\"bad \xc3\x28\",\"createdAt\":\"t\"}}", "not valid UTF-8"},
		{"status callId dot", `{"callId":".","status":"STARTED"}`, `callId: "." is not an id`},
		{"activation callId newline", `{"callId":"c\n1","assistantId":1}`, "callId: control character U+000A"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tc.body))
			if err == nil {
				t.Fatalf("accepted: %+v", ev)
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error does not wrap ErrInvalidEvent: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if len(err.Error()) > 200 || strings.Contains(err.Error(), "caller text") {
				t.Errorf("error quotes the input: %q", err)
			}
		})
	}
}

// The limit is ident.MaxLen bytes: an id of exactly that length passes.
func TestDecodeEventAcceptsLongestID(t *testing.T) {
	id := strings.Repeat("9", 256)
	ev, err := DecodeEvent([]byte(`{"callId":"c1","incidentId":"` + id + `","note":{"type":"INFO","note":"x","createdAt":"t"}}`))
	if err != nil || ev.Note.IncidentID != id {
		t.Fatalf("256-byte id: %v", err)
	}
}
