package sidecar

import "github.com/cad-sidecar/cad-sidecar/assist"

// Kinds of shadow file lines (ShadowRecord.Kind).
const (
	ShadowLink         = "link"          // a link to Assist: sent (mode cad) or would have been (mode all)
	ShadowNote         = "note"          // one write the CAD would have received
	ShadowFiltered     = "filtered"      // a record the mapping's filter dropped
	ShadowMappingError = "mapping_error" // a record the mapping could not handle
)

// ShadowRecord is one line of the shadow file (JSON): what would have been sent, to where,
// for which incident, when. The line of a note holds its rendered text — caller data.
type ShadowRecord struct {
	Time       string `json:"time"`           // RFC 3339, UTC: when the line was written
	Mode       string `json:"mode"`           // cad | all
	Kind       string `json:"kind"`           // link | note | filtered | mapping_error
	To         string `json:"to,omitempty"`   // link: "assist" (POST /cad/incident); note: "cad"
	Sent       bool   `json:"sent,omitempty"` // link: Assist got it (mode cad)
	IncidentID string `json:"incident_id,omitempty"`
	CallID     string `json:"call_id,omitempty"` // when known

	// Request is a link's LinkIncidentRequest.
	Request *assist.LinkIncidentRequest `json:"request,omitempty"`

	// A note: one write into the CAD (a part of a note mapping.note.max_length split).
	Sink      string `json:"sink,omitempty"` // the sink adapter it would have gone through
	Type      string `json:"type,omitempty"` // CALL_COMPLETED | INFO
	Critical  bool   `json:"critical,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	Key       string `json:"key,omitempty"`    // the write's idempotency key ("#i/n" for a part)
	Part      int    `json:"part,omitempty"`   // 1-based
	Parts     int    `json:"parts,omitempty"`  // parts of the note (1: not split)
	Length    int    `json:"length,omitempty"` // characters of Text
	Text      string `json:"text,omitempty"`   // the rendered mapping.note.text

	// Filter is why a record was filtered out: `filter Status != "CLOSED" is false`.
	Filter string `json:"filter,omitempty"`
	// Field is what a mapping error is about: "fields[1] (Address)", "incident_id".
	Field string `json:"field,omitempty"`
	Error string `json:"error,omitempty"`
}
