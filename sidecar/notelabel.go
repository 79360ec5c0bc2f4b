package sidecar

import "github.com/cad-sidecar/cad-sidecar/assist"

// SourceSummaryFallback is the source of a note the sidecar made from the call's summary
// because no CALL_COMPLETED note came within mapping.note.summary.grace (callnotes_fetch.go):
// in the operator views (links, trace, outbox, dead letters) its type is CALL_COMPLETED,
// as in the CAD, and its source says where it came from.
const SourceSummaryFallback = "summary_fallback"

// noteLabel is how the operator views describe a queued note, without its text: its type
// (Assist's note type; CALL_COMPLETED for a summary fallback; the event — call_status,
// activation, transcript — for the sidecar's other notes), whether it is critical (an
// Assist note or a summary, as written into the CAD), and its source ("" = Assist).
func noteLabel(q queuedNote) (typ string, critical bool, source string) {
	switch q.Event {
	case "":
		return q.Note.Type, q.Note.Critical, ""
	case eventSummary:
		typ = q.Note.Type
		if typ == "" {
			typ = assist.NoteCallCompleted
		}
		return typ, q.Note.Critical, SourceSummaryFallback
	}
	return q.Event, false, ""
}

// NoteTypeLabel is a note's type as the CLI and the dashboard print it: the type, and
// "(summary fallback)" after it for a note of that source ("CALL_COMPLETED (summary
// fallback)").
func NoteTypeLabel(typ, source string) string {
	if source == SourceSummaryFallback {
		return typ + " (summary fallback)"
	}
	return typ
}
