package sidecar

import (
	"log/slog"
	"strconv"
	"testing"
)

// BenchmarkTraceAdd is the cost a flow pays per traced event (the buffer append; the
// flush runs apart, once a second).
func BenchmarkTraceAdd(b *testing.B) {
	tr := newTracer(slog.New(slog.DiscardHandler))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "INC-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.add(ids[i%len(ids)], TraceEvent{Kind: traceNoteWrite, CallID: "call-1", NoteID: "h:0123456789abcdef", NoteType: "INFO", Detail: "note-42 attempt 1: accepted by rest"})
		if i%100_000 == 0 {
			tr.mu.Lock()
			tr.buf, tr.buffered = map[string][]TraceEvent{}, 0 // what a flush does
			tr.mu.Unlock()
		}
	}
}
