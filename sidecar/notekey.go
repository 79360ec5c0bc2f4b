package sidecar

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// The Idempotency-Key a note is written into the CAD with is fixed when the note is
// queued: enqueueNote stores it in the queued payload (queuedNote.Key) and deliverNote
// sends it, whatever this version would compute at delivery. A note queued or in flight
// across an upgrade that changes the key format thus keeps its key, and a CAD that
// deduplicates by key does not store it twice.

// idempotencyKey is the key of q as this version computes it (stored at enqueue).
func idempotencyKey(q queuedNote) string {
	switch q.Event {
	case "":
		return assist.PushedNoteKey(q.IncidentID, q.CallID, q.Note)
	case "call_status":
		return "status:" + q.CallID + "/" + q.Status
	case "activation":
		if q.Activation != nil {
			return activationKey(*q.Activation)
		}
	case eventSummary:
		return summaryKey(q.CallID)
	case eventTranscript:
		return transcriptKey(q.CallID)
	}
	return ""
}

// deliveryKey is the key to write q with: the one stored at enqueue, or for a payload
// queued by a version that did not store it, the key that version sent. Those versions
// computed an Assist note's key without the incident id (legacyPushedNoteKey); the keys of
// call-status and activation notes have not changed.
func deliveryKey(q queuedNote) string {
	switch {
	case q.Key != "":
		return q.Key
	case q.Event == "":
		return legacyPushedNoteKey(q.CallID, q.Note)
	}
	return idempotencyKey(q)
}

// legacyPushedNoteKey is an Assist note's key as versions before the incident id was part
// of it computed it: "h:" + hex SHA-256 over callId, createdAt (RFC 3339 normalised to
// UTC), type and note text, each prefixed with its length (8 bytes, big endian). Frozen:
// it must give what those versions sent, whatever assist.PushedNoteKey becomes.
func legacyPushedNoteKey(callID string, n assist.IncidentNote) string {
	createdAt := strings.TrimSpace(n.CreatedAt)
	if t, err := time.Parse(time.RFC3339Nano, createdAt); err == nil {
		createdAt = t.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.New()
	var lenBuf [8]byte
	for _, f := range [...]string{callID, createdAt, n.Type, n.Note} {
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(f)))
		h.Write(lenBuf[:])
		h.Write([]byte(f))
	}
	return "h:" + hex.EncodeToString(h.Sum(nil))
}
