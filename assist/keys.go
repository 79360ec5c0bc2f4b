package assist

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

// PushedNoteKey is the idempotency key of a note derived from its content, for notes that
// carry no noteId (pushed ones): "h:" + hex SHA-256 over incidentId, callId, createdAt, type
// and note text, each length-prefixed so that fields cannot run together. Critical and
// NoteID are not part of it. The incident id is (since the key format changed in the
// unreleased version): the same note for two incidents is two notes.
//
// createdAt is normalised when it parses as RFC 3339 (UTC, no trailing fractional zeros),
// so "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000Z" and "2024-05-01T12:00:00+02:00"
// give the same key; anything else is hashed as sent.
func PushedNoteKey(incidentID, callID string, n IncidentNote) string {
	h := sha256.New()
	var lenBuf [8]byte
	for _, f := range [...]string{incidentID, callID, normCreatedAt(n.CreatedAt), n.Type, n.Note} {
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(f)))
		h.Write(lenBuf[:])
		h.Write([]byte(f))
	}
	return "h:" + hex.EncodeToString(h.Sum(nil))
}

// NoteKeys returns the dedup keys of a note: always PushedNoteKey, plus
// "id:<incidentId>\x1f<callId>\x1f<noteId>" when the note has a NoteID (ids hold no control
// characters, see ident.Check, so the separator cannot occur in them). A note pulled after
// being pushed (or the other way round) shares the content key, and a pulled note seen twice
// shares both. A NoteID that breaks the id rule (longer than ident.MaxLen, control
// characters, invalid UTF-8) is hashed instead: "idh:<incidentId>\x1f<callId>\x1f<hex
// SHA-256>", so the key stays bounded.
func NoteKeys(incidentID, callID string, n IncidentNote) []string {
	keys := []string{PushedNoteKey(incidentID, callID, n)}
	switch {
	case n.NoteID == "":
	case ident.Check("noteId", n.NoteID) != nil:
		sum := sha256.Sum256([]byte(n.NoteID))
		keys = append(keys, "idh:"+incidentID+"\x1f"+callID+"\x1f"+hex.EncodeToString(sum[:]))
	default:
		keys = append(keys, "id:"+incidentID+"\x1f"+callID+"\x1f"+n.NoteID)
	}
	return keys
}

// normCreatedAt normalises an RFC 3339 timestamp to UTC; other strings pass unchanged.
func normCreatedAt(s string) string {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return s
}
