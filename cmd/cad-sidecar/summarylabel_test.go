package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// A summary-fallback note is printed as the CALL_COMPLETED note it is, marked as coming
// from the summary fallback, by links, trace, outbox list and deadletter list.
func TestSummaryFallbackLabelInListings(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const want = "CALL_COMPLETED (summary fallback)"
	for _, tc := range []struct {
		name  string
		print func(*bytes.Buffer)
		want  string
	}{
		{"links", func(b *bytes.Buffer) {
			printLinks(b, []sidecar.LinkView{{IncidentID: "INC-1", CallID: "c1", LastNote: &sidecar.LastNote{
				At: at, Type: "CALL_COMPLETED", Source: sidecar.SourceSummaryFallback, Critical: true, State: "delivered"}}})
		}, "delivered " + want + " 2026-12-01T10:00:00Z critical"},
		{"trace", func(b *bytes.Buffer) {
			printTrace(b, sidecar.Trace{IncidentID: "INC-1", Events: []sidecar.TraceEvent{{At: at, Kind: "note_delivered",
				NoteType: "CALL_COMPLETED", Source: sidecar.SourceSummaryFallback, Critical: true}}})
		}, "note=" + want + " critical"},
		{"outbox list", func(b *bytes.Buffer) {
			printOutbox(b, []sidecar.OutboxMessage{{ID: "note-4", Topic: "note", Key: "INC-1", CreatedAt: at,
				Type: "CALL_COMPLETED", Source: sidecar.SourceSummaryFallback, Critical: true}}, false)
		}, "INC-1     " + want},
		{"deadletter list", func(b *bytes.Buffer) {
			printDeadLetters(b, sidecar.DeadLetterPage{DeadLetters: []sidecar.DeadLetterView{{ID: "note-4", Topic: "note",
				IncidentID: "INC-1", CallID: "c1", Type: "CALL_COMPLETED", Source: sidecar.SourceSummaryFallback, Critical: true}}}, false)
		}, "c1    " + want},
	} {
		var b bytes.Buffer
		tc.print(&b)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s printed\n%s\nwant it to contain %q", tc.name, b.String(), tc.want)
		}
	}
}
