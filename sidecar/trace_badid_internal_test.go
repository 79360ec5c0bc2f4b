package sidecar

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/ident"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// A CAD record whose incident id holds a NUL is refused by the mapping (ident.Check) and
// traced as mapping_failed under mapping.IncidentID's id, ident.ForLog of it — which keeps
// the NUL. That one bad id must not lose the trace events of every other incident that
// were flushed with it (outbox.AppendJournal refuses the whole append for one bad key).
func TestTraceFlushSurvivesOneBadIncidentID(t *testing.T) {
	st, err := outbox.Open(filepath.Join(t.TempDir(), "sidecar.db"), outbox.Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	tr := newTracer(slog.New(slog.DiscardHandler))
	tr.setStore(st)
	bad := ident.ForLog("INC\x00-7") // what Detect puts in Change.IncidentID of that record
	tr.add("INC-1", TraceEvent{Kind: traceLinkQueued})
	tr.add(bad, TraceEvent{Kind: traceMappingFailed, Detail: "incident_id: control character"})
	tr.add("INC-2", TraceEvent{Kind: traceLinkQueued})
	tr.flush()
	for _, id := range []string{"INC-1", "INC-2"} {
		got, err := ReadTrace(st, id)
		if errors.Is(err, outbox.ErrNotFound) || (err == nil && len(got.Events) == 0) {
			t.Errorf("trace of %s lost: flushed together with the events of incident id %q", id, bad)
		} else if err != nil {
			t.Errorf("trace of %s: %v", id, err)
		}
	}
}
