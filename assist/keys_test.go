package assist

import (
	"reflect"
	"strings"
	"testing"
)

func TestPushedNoteKey(t *testing.T) {
	base := IncidentNote{Type: NoteInfo, Note: "caller reports gas smell", Critical: true, CreatedAt: "2024-05-01T10:00:00Z"}
	k := PushedNoteKey("INC-1", "call-1", base)
	if !strings.HasPrefix(k, "h:") || len(k) != 2+64 {
		t.Fatalf("key %q: want h: + 64 hex digits", k)
	}
	if k2 := PushedNoteKey("INC-1", "call-1", base); k2 != k {
		t.Errorf("same note, different keys: %s %s", k, k2)
	}

	// Fields that are not part of the content key.
	same := base
	same.Critical = false
	same.NoteID = "n-9"
	if PushedNoteKey("INC-1", "call-1", same) != k {
		t.Error("Critical or NoteID changed the content key")
	}
	for _, ts := range []string{"2024-05-01T10:00:00.000Z", "2024-05-01T12:00:00+02:00", " 2024-05-01T10:00:00Z"} {
		n := base
		n.CreatedAt = ts
		if PushedNoteKey("INC-1", "call-1", n) != k {
			t.Errorf("createdAt %q not normalised", ts)
		}
	}

	// Any field changed -> another key.
	changed := map[string]func(*IncidentNote) string{
		"incidentId": func(n *IncidentNote) string { return "INC-2|call-1" },
		"callId":     func(n *IncidentNote) string { return "call-2" },
		"createdAt":  func(n *IncidentNote) string { n.CreatedAt = "2024-05-01T10:00:01Z"; return "call-1" },
		"type":       func(n *IncidentNote) string { n.Type = NoteCallCompleted; return "call-1" },
		"note":       func(n *IncidentNote) string { n.Note += "!"; return "call-1" },
		"bad date":   func(n *IncidentNote) string { n.CreatedAt = "yesterday"; return "call-1" },
	}
	for name, mod := range changed {
		n := base
		incidentID, callID, ok := strings.Cut(mod(&n), "|")
		if !ok {
			incidentID, callID = "INC-1", incidentID
		}
		if PushedNoteKey(incidentID, callID, n) == k {
			t.Errorf("changing %s kept the key", name)
		}
	}
}

func TestPushedNoteKeyFieldsDoNotRunTogether(t *testing.T) {
	pairs := []struct {
		callA string
		a     IncidentNote
		callB string
		b     IncidentNote
	}{
		{"ab", IncidentNote{Type: "c"}, "a", IncidentNote{Type: "bc"}},
		{"call", IncidentNote{Type: "INFO", Note: "ab"}, "call", IncidentNote{Type: "INFOa", Note: "b"}},
		{"x", IncidentNote{CreatedAt: "t", Note: ""}, "x", IncidentNote{CreatedAt: "", Note: "t"}},
		{"a\x00", IncidentNote{Type: "b"}, "a", IncidentNote{Type: "\x00b"}},
	}
	for i, p := range pairs {
		if PushedNoteKey("INC-1", p.callA, p.a) == PushedNoteKey("INC-1", p.callB, p.b) ||
			PushedNoteKey(p.callA, "c", p.a) == PushedNoteKey(p.callB, "c", p.b) {
			t.Errorf("pair %d: fields ran together", i)
		}
	}
}

func TestNoteKeys(t *testing.T) {
	pushed := IncidentNote{Type: NoteInfo, Note: "hazard: dog", CreatedAt: "2024-05-01T10:00:00Z"}
	pulled := pushed
	pulled.NoteID = "n-7"

	kp := NoteKeys("INC-1", "call-1", pushed)
	if !reflect.DeepEqual(kp, []string{PushedNoteKey("INC-1", "call-1", pushed)}) {
		t.Errorf("pushed keys %v", kp)
	}
	kl := NoteKeys("INC-1", "call-1", pulled)
	if len(kl) != 2 || kl[1] != "id:INC-1\x1fcall-1\x1fn-7" {
		t.Fatalf("pulled keys %v", kl)
	}
	if kl[0] != kp[0] {
		t.Error("a pulled note must share the content key with the same note pushed")
	}
}

// The same note for two incidents has other keys: it is two notes (issue 7).
func TestNoteKeysIncludeIncident(t *testing.T) {
	n := IncidentNote{NoteID: "n-1", Type: NoteInfo, Note: "same text", CreatedAt: "2024-05-01T10:00:00Z"}
	a, b := NoteKeys("INC-A", "call-1", n), NoteKeys("INC-B", "call-1", n)
	for i := range a {
		if a[i] == b[i] {
			t.Errorf("key %d is the same for two incidents: %q", i, a[i])
		}
	}
}
