package sidecar_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// fakeSourceAdapter is the cad.adapter of the tests below: its Settings is the
// *fakeSource itself.
const fakeSourceAdapter = "test-fake-source"

var registerFake sync.Once

// fakeSource answers every poll with the Batch its test sets, and records the cursors it
// was polled with and the Deps it was built with.
type fakeSource struct {
	batch   atomic.Pointer[adapters.Batch]
	mu      sync.Mutex
	cursors []string
	deps    adapters.Deps
}

// Run polls every second (adapters.PollSource) from the host's cursor.
func (f *fakeSource) Run(ctx context.Context, emit adapters.Emit) error {
	p, err := adapters.PollSource(f.Poll, "@every 1s", f.deps.Cursor)
	if err != nil {
		return err
	}
	return p.Run(ctx, emit)
}

func (f *fakeSource) Poll(_ context.Context, cursor string) (adapters.Batch, error) {
	f.mu.Lock()
	f.cursors = append(f.cursors, cursor)
	f.mu.Unlock()
	if b := f.batch.Load(); b != nil {
		return *b, nil
	}
	return adapters.Batch{}, nil
}

func (f *fakeSource) set(b adapters.Batch) { f.batch.Store(&b) }

func (f *fakeSource) polledWith() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cursors...)
}

type acceptSink struct{}

func (acceptSink) WriteNote(context.Context, adapters.Note) error { return nil }

// startFake runs the sidecar with src as its CAD source.
func startFake(t *testing.T, src *fakeSource) *env {
	t.Helper()
	registerFake.Do(func() {
		adapters.Register(adapters.Factory{
			Name:      fakeSourceAdapter,
			NewConfig: func() any { return &fakeSource{} },
			New: func(cfg any, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
				f := cfg.(*fakeSource)
				f.deps = deps
				return f, acceptSink{}, nil
			},
		})
	})
	return start(t, envOptions{edit: func(c *config.Config) {
		c.CAD.Adapter, c.CAD.Settings = fakeSourceAdapter, src
	}})
}

func rec(id, updated string) adapters.Record {
	return adapters.Record{"IncidentNumber": id, "Status": "OPEN", "updated": updated}
}

func (e *env) storedCursor(t *testing.T) string {
	t.Helper()
	v, _, err := e.s.Store().Get("cursor", "cad")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A sequence cursor (an SQL integer or rowversion) is never read as a time, however large:
// 5000000000 ("2128" as Unix seconds) and 50000000000000 ("3554" as milliseconds) are
// adopted, polling goes on and /readyz stays ready.
func TestSequenceCursorNeverJudged(t *testing.T) {
	src := &fakeSource{}
	src.set(adapters.Batch{Records: []adapters.Record{rec("SEQ-1", "x")}, Cursor: "5000000000", CursorKind: adapters.CursorSequence})
	e := startFake(t, src)
	if src.deps.CursorTolerance != 5*time.Minute {
		t.Fatalf("Deps.CursorTolerance = %s, want cad.cursor_tolerance (5m)", src.deps.CursorTolerance)
	}
	waitFor(t, 10*time.Second, "the sequence cursor adopted", func() bool { return e.storedCursor(t) == "5000000000" })
	src.set(adapters.Batch{Records: []adapters.Record{rec("SEQ-2", "x")}, Cursor: "50000000000000", CursorKind: adapters.CursorSequence, CursorFrom: 1})
	waitFor(t, 10*time.Second, "the rowversion-like cursor adopted", func() bool { return e.storedCursor(t) == "50000000000000" })
	// Polled on from it (the stored sequence cursor is not judged either).
	waitFor(t, 10*time.Second, "two polls from the stored cursor", func() bool {
		n := 0
		for _, c := range src.polledWith() {
			if c == "50000000000000" {
				n++
			}
		}
		return n >= 2
	})
	if n := e.metric(t, "cad_sidecar_cad_cursor_rejected_total"); n != 0 {
		t.Fatalf("cad_cursor_rejected_total = %v, want 0", n)
	}
	if r := e.readyz(t); !r.Checks["cad_cursor"].OK || r.Checks["cad_cursor"].Degraded {
		t.Fatalf("cad_cursor = %+v", r.Checks["cad_cursor"])
	}
	if strings.Contains(e.logs.String(), "CAD cursor") && strings.Contains(e.logs.String(), "future") {
		t.Fatalf("a sequence cursor reported in the future:\n%s", e.logs.String())
	}
	// cursor show / set (admin API and offline alike) know it is a sequence too.
	var info sidecar.CursorInfo
	if code, body := e.api(t, "GET", "/api/v1/cursor", "", &info); code != 200 || info.InFuture || info.Kind != "sequence" || !info.Time.IsZero() {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, body := e.api(t, "PUT", "/api/v1/cursor", `{"cursor":"60000000000000"}`, &info); code != 200 || info.InFuture || info.Previous != "50000000000000" {
		t.Fatalf("PUT a larger sequence number: %d %s", code, body)
	}
}

// A Source that skipped a value in the future (a record stamped 2099) advances its cursor
// over the sane records and reports the skipped value: the sidecar adopts the sane cursor,
// counts and logs the anomaly with the incident, and /readyz is degraded, then not ready
// once it persists; once the record is corrected it is ready again.
func TestSourceSkippedFutureCursor(t *testing.T) {
	src := &fakeSource{}
	skipped := adapters.Batch{
		Records:    []adapters.Record{rec("SANE-1", "2026-11-25T10:00:00Z"), rec("FUT-1", "2099-01-01T00:00:00Z")},
		Cursor:     "2026-11-25T10:00:00Z",
		CursorFrom: 1, CursorKind: adapters.CursorTime,
		FutureCursor: "2099-01-01T00:00:00Z", FutureFrom: 2,
	}
	src.set(skipped)
	e := startFake(t, src)
	rejected := func() float64 { return e.metric(t, "cad_sidecar_cad_cursor_rejected_total") }

	waitFor(t, 10*time.Second, "the skipped value counted", func() bool { return rejected() >= 1 })
	if got := e.storedCursor(t); got != "2026-11-25T10:00:00Z" {
		t.Fatalf("cursor = %q, want the sane records' cursor adopted", got)
	}
	if c := e.readyz(t).Checks["cad_cursor"]; !c.Degraded || !strings.Contains(c.Detail, "FUT-1") || !strings.Contains(c.Detail, "2099") {
		t.Fatalf("cad_cursor after the first skip: %+v", c)
	}
	waitFor(t, 10*time.Second, "both records linked", func() bool {
		_, ok1, _ := e.s.Store().GetLink("SANE-1")
		_, ok2, _ := e.s.Store().GetLink("FUT-1")
		return ok1 && ok2
	})
	waitFor(t, 15*time.Second, "not ready once it persists", func() bool { return rejected() >= sidecar.CursorPersistPolls })
	r := e.readyz(t)
	if c := r.Checks["cad_cursor"]; r.Ready || c.OK || !c.Degraded {
		t.Fatalf("after %d skips: ready=%v cad_cursor=%+v", sidecar.CursorPersistPolls, r.Ready, c)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `level=WARN msg="CAD cursor in the future not adopted" incident_id=FUT-1 cursor=2099-01-01T00:00:00Z`) {
		t.Fatalf("no WARN naming the incident:\n%s", logs)
	}
	if n := strings.Count(logs, `level=WARN msg="CAD cursor in the future not adopted"`); n > 2 {
		t.Fatalf("%d WARN lines for one persisting cause (want the start and the turn to not ready)", n)
	}
	for _, c := range src.polledWith() {
		if strings.HasPrefix(c, "2099") {
			t.Fatalf("polled with cursor %s", c)
		}
	}

	// Corrected in the CAD: the next sane poll clears it; the cursor moves on.
	src.set(adapters.Batch{Records: []adapters.Record{rec("SANE-2", "2026-11-25T11:00:00Z")}, Cursor: "2026-11-25T11:00:00Z", CursorFrom: 1, CursorKind: adapters.CursorTime})
	waitFor(t, 10*time.Second, "ready again", func() bool { return e.readyz(t).Checks["cad_cursor"].OK })
	if c := e.readyz(t).Checks["cad_cursor"]; c.Degraded {
		t.Fatalf("cad_cursor still degraded: %+v", c)
	}
	waitFor(t, 10*time.Second, "the cursor advanced", func() bool { return e.storedCursor(t) == "2026-11-25T11:00:00Z" })
}

// A time cursor read on the Source's own clock (Batch.Clock: a zone-less column holding
// the CAD's local time, hours ahead of UTC) is judged against that clock, not the host's.
func TestTimeCursorJudgedOnSourceClock(t *testing.T) {
	local := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Second) // UTC+3 wall clock read as UTC
	c := local.Format(time.RFC3339)
	src := &fakeSource{}
	src.set(adapters.Batch{Records: []adapters.Record{rec("LOCAL-1", c)}, Cursor: c, CursorFrom: 1, CursorKind: adapters.CursorTime, Clock: local})
	e := startFake(t, src)
	waitFor(t, 10*time.Second, "the local-time cursor adopted", func() bool { return e.storedCursor(t) == c })
	waitFor(t, 10*time.Second, "a poll from the stored cursor", func() bool {
		for _, p := range src.polledWith() {
			if p == c {
				return true
			}
		}
		return false
	})
	if n := e.metric(t, "cad_sidecar_cad_cursor_rejected_total"); n != 0 {
		t.Fatalf("cad_cursor_rejected_total = %v, want 0", n)
	}
	// Without the Source's clock the same cursor is 3h in the future: refused.
	src.set(adapters.Batch{Records: []adapters.Record{rec("LOCAL-2", c)}, Cursor: local.Add(time.Minute).Format(time.RFC3339), CursorFrom: 1, CursorKind: adapters.CursorTime})
	waitFor(t, 10*time.Second, "the cursor refused on the host's clock", func() bool { return e.metric(t, "cad_sidecar_cad_cursor_rejected_total") >= 1 })
	if got := e.storedCursor(t); got != c {
		t.Fatalf("cursor = %q, want it kept at %q", got, c)
	}
}
