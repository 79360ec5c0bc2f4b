package assist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

// EventKind tells the webhook events apart.
type EventKind int

// The webhook event kinds. The zero value is no event.
const (
	EventNote       EventKind = iota + 1 // IncidentNotePayload
	EventCallStatus                      // CallStatusUpdateWebhook
	EventActivation                      // AssistantActivationWebhook
)

// String returns "note", "call_status", "activation" or "unknown".
func (k EventKind) String() string {
	switch k {
	case EventNote:
		return "note"
	case EventCallStatus:
		return "call_status"
	case EventActivation:
		return "activation"
	}
	return "unknown"
}

// Event is one decoded webhook payload; exactly the field matching Kind is set.
type Event struct {
	Kind       EventKind
	Note       *IncidentNotePayload
	Status     *CallStatusUpdateWebhook
	Activation *AssistantActivationWebhook
}

// CallID returns the callId of whichever payload the event carries.
func (e Event) CallID() string {
	switch {
	case e.Note != nil:
		return e.Note.CallID
	case e.Status != nil:
		return e.Status.CallID
	case e.Activation != nil:
		return e.Activation.CallID
	}
	return ""
}

// ErrInvalidEvent is wrapped by every DecodeEvent error.
var ErrInvalidEvent = errors.New("invalid webhook event")

// DecodeEvent decodes a webhook body. All event types arrive at one URL, so the type is
// told by the fields present (not null):
//
//   - "note" → EventNote: callId, incidentId, note.type (CALL_COMPLETED, INFO or any later type), note.note
//     (non-empty) and note.createdAt are required; note.critical defaults to false.
//   - "status" → EventCallStatus: callId, status (STARTED | ENDED) required.
//   - "assistantId" or "assistantName" → EventActivation: callId required.
//
// Unknown fields are ignored. Field names are matched in camelCase first, then ignoring case
// and underscores (call_id, created_at), since Assist's public pages use snake_case. Ids may
// be JSON strings or numbers. Errors wrap ErrInvalidEvent, name the field and never quote
// note text or an id.
//
// The body must be valid UTF-8 (json.Unmarshal would silently replace a bad byte and, in an
// id, send the note to another incident), and callId and incidentId must pass ident.Check:
// not empty, not "." or "..", at most ident.MaxLen bytes, no control characters.
func DecodeEvent(body []byte) (Event, error) {
	if !utf8.Valid(body) {
		return Event{}, invalid("body is not valid UTF-8")
	}
	ev, ok := decodeNoteFast(body)
	if !ok {
		var err error
		if ev, err = decodeLenient(body); err != nil {
			return Event{}, err
		}
	}
	if err := checkIDs(ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// checkIDs applies ident.Check to the ids of a decoded event.
func checkIDs(ev Event) error {
	what := map[EventKind]string{EventNote: "note event", EventCallStatus: "call status event", EventActivation: "activation event"}[ev.Kind]
	if err := ident.Check("callId", ev.CallID()); err != nil {
		return invalid("%s: %v", what, err)
	}
	if ev.Note != nil {
		if err := ident.Check("incidentId", ev.Note.IncidentID); err != nil {
			return invalid("%s: %v", what, err)
		}
	}
	return nil
}

// fastNote is the canonical (camelCase, string ids) note event, decoded in one pass.
type fastNote struct {
	CallID     *string `json:"callId"`
	IncidentID *string `json:"incidentId"`
	Note       *struct {
		NoteID    *string `json:"noteId"`
		Type      *string `json:"type"`
		Note      *string `json:"note"`
		Critical  *bool   `json:"critical"`
		CreatedAt *string `json:"createdAt"`
	} `json:"note"`
}

// decodeNoteFast decodes the common case — a note event in the schema's own spelling — with
// one json.Unmarshal. Anything else (another event, snake_case, numeric ids, a missing or
// blank field) reports false and goes through decodeLenient, which gives the same result
// for what both accept and the precise error for what it refuses.
func decodeNoteFast(body []byte) (Event, bool) {
	var f fastNote
	if json.Unmarshal(body, &f) != nil || f.Note == nil {
		return Event{}, false
	}
	n := f.Note
	for _, p := range []*string{f.CallID, f.IncidentID, n.Type, n.Note, n.CreatedAt} {
		if p == nil || strings.TrimSpace(*p) == "" {
			return Event{}, false
		}
	}
	if n.NoteID != nil && strings.TrimSpace(*n.NoteID) == "" {
		return Event{}, false
	}
	p := &IncidentNotePayload{CallID: *f.CallID, IncidentID: *f.IncidentID,
		Note: IncidentNote{Type: *n.Type, Note: *n.Note, CreatedAt: *n.CreatedAt}}
	if n.Critical != nil {
		p.Note.Critical = *n.Critical
	}
	if n.NoteID != nil {
		p.Note.NoteID = *n.NoteID
	}
	return Event{Kind: EventNote, Note: p}, true
}

// decodeLenient decodes any event shape DecodeEvent accepts, field by field.
func decodeLenient(body []byte) (Event, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return Event{}, invalid("%v", err)
	}
	switch {
	case obj.has("note"):
		p, err := decodeNotePayload(obj)
		if err != nil {
			return Event{}, invalid("note event: %v", err)
		}
		return Event{Kind: EventNote, Note: p}, nil
	case obj.has("status"):
		s := &CallStatusUpdateWebhook{}
		if s.CallID, err = obj.id("callId", true); err != nil {
			return Event{}, invalid("call status event: %v", err)
		}
		if s.Status, err = obj.enum("status", CallStarted, CallEnded); err != nil {
			return Event{}, invalid("call status event: %v", err)
		}
		return Event{Kind: EventCallStatus, Status: s}, nil
	case obj.has("assistantId") || obj.has("assistantName"):
		a, err := decodeActivation(obj)
		if err != nil {
			return Event{}, invalid("activation event: %v", err)
		}
		return Event{Kind: EventActivation, Activation: a}, nil
	}
	return Event{}, invalid("unknown event: no note, status, assistantId or assistantName field")
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
}

func decodeNotePayload(obj object) (*IncidentNotePayload, error) {
	p := &IncidentNotePayload{}
	var err error
	if p.CallID, err = obj.id("callId", true); err != nil {
		return nil, err
	}
	if p.IncidentID, err = obj.id("incidentId", true); err != nil {
		return nil, err
	}
	raw, _ := obj.get("note")
	n, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("note: %v", err)
	}
	n.prefix = "note."
	// Any type is accepted, not only CALL_COMPLETED and INFO: refusing a note of a type
	// Assist adds later would lose it, and a lost note can be a lost hazard warning.
	if p.Note.Type, err = n.str("type", true); err != nil {
		return nil, err
	}
	if p.Note.Note, err = n.str("note", true); err != nil {
		return nil, err
	}
	if p.Note.CreatedAt, err = n.str("createdAt", true); err != nil {
		return nil, err
	}
	if p.Note.Critical, err = n.boolean("critical"); err != nil {
		return nil, err
	}
	if p.Note.NoteID, err = n.id("noteId", false); err != nil {
		return nil, err
	}
	return p, nil
}

func decodeActivation(obj object) (*AssistantActivationWebhook, error) {
	a := &AssistantActivationWebhook{}
	var err error
	if a.CallID, err = obj.id("callId", true); err != nil {
		return nil, err
	}
	if a.AssistantID, err = obj.int64("assistantId"); err != nil {
		return nil, err
	}
	if a.AssistantName, err = obj.str("assistantName", false); err != nil {
		return nil, err
	}
	if a.AssistantActivationExplanation, err = obj.str("assistantActivationExplanation", false); err != nil {
		return nil, err
	}
	return a, nil
}

// object is a decoded JSON object whose fields are looked up leniently.
type object struct {
	m      map[string]json.RawMessage
	prefix string // for error messages: "note."
}

func decodeObject(raw []byte) (object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return object{}, errors.New("empty body")
	}
	if raw[0] != '{' {
		return object{}, errors.New("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return object{}, fmt.Errorf("malformed JSON at byte %d", se.Offset)
		}
		return object{}, errors.New("malformed JSON")
	}
	return object{m: m}, nil
}

// normKey folds case and drops underscores: callId, CallID and call_id all give "callid".
func normKey(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "")) }

// get returns the field name (exact spelling first, then any spelling with the same normKey),
// treating null as absent.
func (o object) get(name string) (json.RawMessage, bool) {
	v, ok := o.m[name]
	if !ok {
		n := normKey(name)
		for k, kv := range o.m {
			if normKey(k) == n {
				v, ok = kv, true
				break
			}
		}
	}
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (o object) has(name string) bool { _, ok := o.get(name); return ok }

// str returns a string field; required means present and not blank.
func (o object) str(name string, required bool) (string, error) {
	raw, ok := o.get(name)
	if !ok {
		if required {
			return "", fmt.Errorf("%s%s: missing", o.prefix, name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s%s: want a string", o.prefix, name)
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s%s: empty", o.prefix, name)
	}
	return s, nil
}

// id is like str but also takes a JSON number, kept as written.
func (o object) id(name string, required bool) (string, error) {
	if raw, ok := o.get(name); ok && len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err == nil {
			return n.String(), nil
		}
	}
	return o.str(name, required)
}

// enum returns a required string field that must be one of allowed.
func (o object) enum(name string, allowed ...string) (string, error) {
	s, err := o.str(name, true)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	shown := s
	if len(shown) > 32 {
		shown = shown[:32] + "..."
	}
	return "", fmt.Errorf("%s%s: want %s, got %q", o.prefix, name, strings.Join(allowed, " or "), shown)
}

// boolean returns an optional bool field (false when absent); "true"/"false" strings pass.
func (o object) boolean(name string) (bool, error) {
	raw, ok := o.get(name)
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s%s: want a bool", o.prefix, name)
}

// int64 returns an optional integer field (0 when absent); numeric strings pass.
func (o object) int64(name string) (int64, error) {
	raw, ok := o.get(name)
	if !ok {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s%s: want an integer", o.prefix, name)
	}
	return v, nil
}
