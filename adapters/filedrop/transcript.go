package filedrop

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

var _ adapters.TranscriptWriter = (*Sink)(nil)

// A call's transcript (mapping.note.transcript) is written as one file beside the notes,
// named as a note would be (NoteFileName) with ".transcript" before the format's
// extension — "20260101T100000.000Z-260045123-1a2b3c4d5e6f7a8b.transcript.json" — atomically
// like a note; the same key gives the same name. json: the fields and every segment; xml:
// the same as a <Transcript> document; text: a header and the rendered transcript.

// transcriptJSON is a transcript as note_format json writes it.
type transcriptJSON struct {
	XMLName    xml.Name                     `json:"-" xml:"Transcript"`
	IncidentID string                       `json:"incident_id" xml:"IncidentID"`
	CallID     string                       `json:"call_id" xml:"CallID"`
	UserID     string                       `json:"user_id,omitempty" xml:"UserID,omitempty"`
	CreatedAt  string                       `json:"created_at" xml:"CreatedAt"`
	Key        string                       `json:"key" xml:"IdempotencyKey"`
	Segments   []adapters.TranscriptSegment `json:"segments" xml:"Segments>Segment"`
	Text       string                       `json:"text" xml:"Text"`
}

// TranscriptFileName is the name of t's file for a sink writing ext ("json", …) files.
func TranscriptFileName(t adapters.Transcript, ext string) string {
	name := NoteFileName(adapters.Note{IncidentID: t.IncidentID, CreatedAt: t.CreatedAt, Key: t.Key}, "")
	return name + ".transcript" + ext
}

// WriteTranscript writes t as one file in outbound, atomically.
func (s *Sink) WriteTranscript(ctx context.Context, t adapters.Transcript) error {
	if err := ctx.Err(); err != nil {
		return delivery.Transient(err)
	}
	doc := transcriptJSON{IncidentID: t.IncidentID, CallID: t.CallID, UserID: t.UserID, CreatedAt: t.CreatedAt,
		Key: t.Key, Segments: t.Segments, Text: t.Text}
	var (
		body []byte
		err  error
	)
	switch s.ext {
	case ".json":
		body, err = json.MarshalIndent(doc, "", "  ")
		body = append(body, '\n')
	case ".xml":
		body, err = xml.MarshalIndent(doc, "", "  ")
		body = append([]byte(xml.Header), append(body, '\n')...)
	default:
		var b strings.Builder
		fmt.Fprintf(&b, "Incident: %s\nCall: %s\nType: TRANSCRIPT\nCreated: %s\nIdempotency-Key: %s\n\n%s\n",
			t.IncidentID, t.CallID, t.CreatedAt, t.Key, t.Text)
		body = []byte(b.String())
	}
	if err != nil {
		return delivery.Permanent(fmt.Errorf("filedrop: transcript for incident %s: %w", t.IncidentID, err))
	}
	name := TranscriptFileName(t, s.ext)
	if err := writeAtomic(s.dir, name, body); err != nil {
		return delivery.Transient(fmt.Errorf("filedrop: write transcript %s: %w", filepath.Join(s.dir, name), err))
	}
	s.log.Debug("transcript written", "incident_id", t.IncidentID, "call_id", t.CallID, "file", name, "bytes", len(body), "segments", len(t.Segments))
	return nil
}
