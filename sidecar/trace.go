package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The incident trace: what the sidecar did for one incident, in order, with times — the
// record polled and mapped (or filtered, or refused by the mapping), the link queued, sent
// and answered, the call started and ended, each note received (and how), each write
// attempt and the CAD's answer, retries, give-ups, replays and drops. GET
// /api/v1/trace/{incident} and `cad-sidecar trace INCIDENT` show it.
//
// It must not slow the flows down: a hook only appends to an in-memory buffer (a mutex
// and an append); the buffer is written to the store at most once a second (traceFlushEvery)
// as one outbox journal append (outbox/journal.go), which goes through the outbox's writer
// and so shares its group commits: no fsync per event. A crash loses the events of the
// last second at most (the notes themselves are never lost: the outbox has them). Each
// incident keeps its newest TraceMaxEvents events ("truncated": true once older ones were
// dropped); the trace is forgotten with the incident's state (janitor.go), and traces of
// incidents never linked after outbox.state_retention. Details hold ids, types, status
// codes and errors (err.Error(), which for answers of the CAD and Assist says the request
// and the status, never the body): no note text, no caller data.

// Trace limits.
const (
	// TraceMaxEvents is how many events an incident's trace keeps (the newest).
	TraceMaxEvents = 200
	// traceMaxBuffered bounds the events waiting in memory for their flush (all
	// incidents): past it new events are counted as dropped.
	traceMaxBuffered = 100_000
	traceFlushEvery  = time.Second
	// traceJournal is the journal (generic state bucket) holding the traces.
	traceJournal = "trace"
	// traceMaxKeyLen is the longest incident id a journal key takes (outbox maxKeyLen).
	traceMaxKeyLen = 4096
)

// Trace event kinds.
const (
	tracePolled        = "polled"
	traceMapped        = "mapped"
	traceFiltered      = "filtered"
	traceMappingFailed = "mapping_failed"
	traceLinkQueued    = "link_queued"
	traceLinkSent      = "link_sent"
	traceLinkFailed    = "link_failed"
	traceLinked        = "linked"
	traceCallStarted   = "call_started"
	traceCallEnded     = "call_ended"
	traceNoteReceived  = "note_received"
	traceNoteWrite     = "note_write"
	traceNoteDelivered = "note_delivered"
	traceNoteRetry     = "note_retry"
	traceGivenUp       = "given_up"
	traceReplayed      = "replayed"
	traceDropped       = "dropped"
)

// TraceEvent is one step of an incident's trace.
type TraceEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	CallID string    `json:"call_id,omitempty"`
	NoteID string    `json:"note_id,omitempty"` // Assist's note id, else the note's idempotency key
	// NoteType and Critical describe the note of a note event (no text).
	NoteType string `json:"note_type,omitempty"`
	Source   string `json:"source,omitempty"` // SourceSummaryFallback; "" = Assist
	Critical bool   `json:"critical,omitempty"`
	Detail   string `json:"detail"`
}

// Trace is one incident's trace (GET /api/v1/trace/{incident}).
type Trace struct {
	IncidentID string       `json:"incident_id"`
	Events     []TraceEvent `json:"events"`
	// Truncated: older events were dropped (TraceMaxEvents), or lost to a full buffer.
	Truncated bool `json:"truncated"`
}

// tracer buffers trace events and flushes them to the store. A nil *tracer does nothing.
type tracer struct {
	log *slog.Logger
	max int

	mu       sync.Mutex
	store    *outbox.Store
	buf      map[string][]TraceEvent
	dropped  map[string]int
	buffered int
	// lastSig: incident → kind and detail of its latest event when that is one that repeats
	// at every poll (polled, filtered, mapping_failed): the same again is skipped.
	lastSig map[string]string

	flushMu sync.Mutex // flushes in order
}

func newTracer(log *slog.Logger) *tracer {
	return &tracer{log: log, max: TraceMaxEvents, buf: map[string][]TraceEvent{},
		dropped: map[string]int{}, lastSig: map[string]string{}}
}

func (t *tracer) setStore(st *outbox.Store) {
	t.mu.Lock()
	t.store = st
	t.mu.Unlock()
}

// add records ev (At = now when zero) for incident. An event repeating the incident's
// previous one (same kind and detail: a record filtered at every poll) is skipped.
func (t *tracer) add(incident string, ev TraceEvent) {
	if t == nil || incident == "" {
		return
	}
	if len(incident) > traceMaxKeyLen || strings.IndexByte(incident, 0) >= 0 {
		return // no journal key (a CAD's unusable id): it would fail the whole flush
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.At = ev.At.UTC()
	repeats := ev.Kind == traceFiltered || ev.Kind == traceMappingFailed || ev.Kind == tracePolled
	sig := ""
	if repeats {
		sig = ev.Kind + "\x00" + ev.Detail
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case repeats && t.lastSig[incident] == sig:
		return
	case repeats:
		if len(t.lastSig) >= traceMaxBuffered {
			clear(t.lastSig)
		}
		t.lastSig[incident] = sig
	case len(t.lastSig) > 0:
		delete(t.lastSig, incident) // another event: the next repeat is traced again
	}
	if t.buffered >= traceMaxBuffered {
		t.dropped[incident]++
		return
	}
	evs := append(t.buf[incident], ev)
	if len(evs) > t.max {
		evs = evs[1:]
		t.dropped[incident]++
		t.buffered--
	}
	t.buf[incident] = evs
	t.buffered++
}

// forget drops what is buffered for incident (its state is being pruned).
func (t *tracer) forget(incident string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.buffered -= len(t.buf[incident])
	delete(t.buf, incident)
	delete(t.dropped, incident)
	delete(t.lastSig, incident)
	t.mu.Unlock()
}

// run flushes the buffer every traceFlushEvery until ctx is done, then once more.
func (t *tracer) run(ctx context.Context) error {
	tick := time.NewTicker(traceFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.flush()
			return nil
		case <-tick.C:
			t.flush()
		}
	}
}

// flush writes the buffered events to the store (one journal append). A failure is logged
// and the events are lost: the trace is diagnostics, never a reason to hold anything up.
func (t *tracer) flush() {
	if t == nil {
		return
	}
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	st, buf, dropped, n := t.store, t.buf, t.dropped, t.buffered
	if len(buf) == 0 && len(dropped) == 0 {
		t.mu.Unlock()
		return
	}
	t.buf, t.dropped, t.buffered = map[string][]TraceEvent{}, map[string]int{}, 0
	t.mu.Unlock()
	if st == nil {
		return
	}
	adds := make([]outbox.JournalAppend, 0, len(buf)+len(dropped))
	for id, evs := range buf {
		a := outbox.JournalAppend{Key: id, Dropped: dropped[id], Entries: make([][]byte, 0, len(evs))}
		delete(dropped, id)
		for _, ev := range evs {
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			a.Entries = append(a.Entries, b)
		}
		adds = append(adds, a)
	}
	for id, d := range dropped { // dropped without a buffered event
		adds = append(adds, outbox.JournalAppend{Key: id, Dropped: d})
	}
	if err := st.AppendJournal(traceJournal, t.max, adds); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, outbox.ErrClosed) {
			level = slog.LevelDebug
		}
		t.log.Log(context.Background(), level, "incident trace events not saved", "events", n, "incidents", len(adds), "err", err)
	}
}

// ReadTrace returns the stored trace of incident; outbox.ErrNotFound when it has none.
func ReadTrace(st *outbox.Store, incident string) (Trace, error) {
	entries, dropped, _, ok, err := st.Journal(traceJournal, incident)
	if err != nil {
		return Trace{}, err
	}
	if !ok {
		return Trace{}, fmt.Errorf("no trace for incident %s: %w", incident, outbox.ErrNotFound)
	}
	tr := Trace{IncidentID: incident, Events: make([]TraceEvent, 0, len(entries)), Truncated: dropped > 0}
	for _, e := range entries {
		var ev TraceEvent
		if json.Unmarshal(e, &ev) == nil {
			tr.Events = append(tr.Events, ev)
		}
	}
	// In time order: an event stamped before its hook ran (note_received) may have been
	// appended after the events of its delivery.
	slices.SortStableFunc(tr.Events, func(a, b TraceEvent) int { return a.At.Compare(b.At) })
	return tr, nil
}

// lastNoteOfTrace is the latest note delivered or given up that incident's trace holds
// (nil: none).
func lastNoteOfTrace(st *outbox.Store, incident string) (*LastNote, error) {
	tr, err := ReadTrace(st, incident)
	if errors.Is(err, outbox.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := len(tr.Events) - 1; i >= 0; i-- {
		ev := tr.Events[i]
		state := ""
		switch {
		case ev.Kind == traceNoteDelivered:
			state = "delivered"
		case ev.Kind == traceGivenUp && ev.NoteID != "":
			state = "dead"
		default:
			continue
		}
		return &LastNote{At: ev.At, Type: ev.NoteType, Source: ev.Source, Critical: ev.Critical, State: state}, nil
	}
	return nil, nil
}
