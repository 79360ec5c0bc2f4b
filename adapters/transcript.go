package adapters

import "context"

// Transcript is a call's final transcript (mapping.note.transcript), for a sink that keeps
// it as a file of its own rather than as a note.
type Transcript struct {
	IncidentID string
	CallID     string
	UserID     string
	// Key is its idempotency key: the same transcript always has the same key.
	Key string
	// CreatedAt is when the call ended (RFC 3339).
	CreatedAt string
	// Text is the transcript rendered by mapping.note.transcript.text (without note.text).
	Text     string
	Segments []TranscriptSegment
}

// TranscriptSegment is one final segment of a transcript.
type TranscriptSegment struct {
	Role       string  `json:"role"`           // participantRole, e.g. CALLER
	Start      float64 `json:"start"`          // seconds from the call's start
	End        float64 `json:"end"`            // seconds from the call's start
	Lang       string  `json:"lang,omitempty"` // langCode
	Text       string  `json:"text"`
	Translated string  `json:"translated,omitempty"` // translatedText, when there is one
}

// TranscriptWriter is implemented by a Sink that takes a call's transcript as a file of its
// own (filedrop writes it beside the notes). For a sink without it, the transcript is
// written as a note, split by mapping.note.max_length. WriteTranscript returns nil once
// the transcript is stored; errors in delivery's vocabulary, as WriteNote's. The same Key
// must not give two files.
type TranscriptWriter interface {
	WriteTranscript(ctx context.Context, t Transcript) error
}
