package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// The call's own notes (mapping.note.summary, mapping.note.transcript): when a call ends,
// the sidecar waits note.summary.grace for Assist's CALL_COMPLETED note; then, if none
// came, it fetches the call (GET /call/{id}) and queues its summary as a CALL_COMPLETED
// note, and (note.transcript) its final transcript — each through the outbox like any
// other note, under an idempotency key of its own ("summary:<callId>",
// "transcript:<callId>"), so that a second try after a crash is dropped as a duplicate.
//
// What is waiting is durable: one entry per ended call in the state bucket call_notes
// (key "pending", a JSON map call id → callEnd), written before the ENDED webhook is
// answered. At start the runner reads it and does what is due, so a restart between a
// call's end and its fallback neither loses nor repeats it. An entry is kept for an hour
// once settled (a late duplicate ENDED changes nothing), an entry of a call that has not
// ended (a CALL_COMPLETED note seen first) for assist.pull.max_age.
//
// A failing GET /call is retried with outbox.retry's backoff (one call's failures delay
// no other call: at most callNoteWorkers fetches run at once, each bounded by
// assist.timeout) and given up when permanent or once the call ended outbox.max_age ago.

const (
	bucketCallNotes = "call_notes"
	keyCallNotes    = "pending"
	// callNoteWorkers bounds the GET /call requests in flight.
	callNoteWorkers = 4
	// settledKeep is how long a settled entry is kept.
	settledKeep = time.Hour
)

// States of callEnd.Summary and callEnd.Transcript.
const (
	cnPending = "pending" // to do once the grace has passed
	cnDone    = "done"    // written, not needed, empty or given up
)

// callEnd is the durable state of one call's own notes.
type callEnd struct {
	IncidentID string    `json:"incidentId,omitempty"`
	EndedAt    time.Time `json:"endedAt,omitzero"`
	// CompletedAt is when a CALL_COMPLETED note of the call was queued (pushed or pulled).
	CompletedAt time.Time `json:"completedAt,omitzero"`
	Summary     string    `json:"summary,omitempty"`
	Transcript  string    `json:"transcript,omitempty"`
	// Attempts counts the failed GET /call of this call.
	Attempts  int       `json:"attempts,omitempty"`
	SettledAt time.Time `json:"settledAt,omitzero"`
	// TouchedAt is when the entry was created (for an entry of a call not ended).
	TouchedAt time.Time `json:"touchedAt,omitzero"`
}

func (e *callEnd) pending() bool { return e.Summary == cnPending || e.Transcript == cnPending }

// callNoteRunner keeps the call_notes state and runs the fetches.
type callNoteRunner struct {
	s    *Sidecar
	mu   sync.Mutex // serialises the read-modify-write of the state
	wake chan struct{}
	// skew is added to the clock (tests move it forward instead of waiting).
	skew atomic.Int64

	// In memory, guarded by mu: calls being fetched, and the time of a call's next try
	// after a failed one (lost at a restart: everything is tried again at once).
	busy map[string]bool
	next map[string]time.Time
	// queueFails counts a call's failed tries to queue its notes (the outbox refusing:
	// full, no space), so that those tries back off too.
	queueFails map[string]int
	// checked is when pull-only mode last asked Assist whether a call ended.
	checked map[string]time.Time
}

func newCallNoteRunner(s *Sidecar) *callNoteRunner {
	return &callNoteRunner{s: s, wake: make(chan struct{}, 1),
		busy: map[string]bool{}, next: map[string]time.Time{}, queueFails: map[string]int{}, checked: map[string]time.Time{}}
}

// enabled reports whether the mapping in use wants a summary or a transcript.
func (r *callNoteRunner) enabled() (summary, transcript bool) {
	m := r.s.mapping()
	return m.SummaryNotes(), m.TranscriptNotes()
}

func (r *callNoteRunner) now() time.Time { return time.Now().Add(time.Duration(r.skew.Load())) }

func (r *callNoteRunner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// load reads the state; mu is held.
func (r *callNoteRunner) load() (map[string]*callEnd, error) {
	v, ok, err := r.s.store.Get(bucketCallNotes, keyCallNotes)
	if err != nil || !ok {
		return map[string]*callEnd{}, err
	}
	m := map[string]*callEnd{}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("state %s/%s: %w", bucketCallNotes, keyCallNotes, err)
	}
	return m, nil
}

// save writes the state; mu is held.
func (r *callNoteRunner) save(m map[string]*callEnd) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s state: %w", bucketCallNotes, err)
	}
	if err := r.s.store.Put(bucketCallNotes, keyCallNotes, string(b)); err != nil {
		return err
	}
	n := 0
	for _, e := range m {
		if e.pending() {
			n++
		}
	}
	r.s.metrics.CallNotes.Pending.Set(float64(n))
	return nil
}

// update applies fn to the state and writes it when fn reports a change.
func (r *callNoteRunner) update(fn func(m map[string]*callEnd) bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.load()
	if err != nil {
		return err
	}
	if !fn(m) {
		return nil
	}
	return r.save(m)
}

// ended records that callID (linked to incidentID) ended at at: its summary and transcript
// are due once the grace has passed. A second ENDED changes nothing. It returns once the
// state is on disk.
func (r *callNoteRunner) ended(callID, incidentID string, at time.Time) error {
	summary, transcript := r.enabled()
	if !summary && !transcript {
		return nil
	}
	var notNeeded bool
	err := r.update(func(m map[string]*callEnd) bool {
		e := m[callID]
		if e == nil {
			e = &callEnd{TouchedAt: r.now().UTC()}
			m[callID] = e
		}
		if !e.EndedAt.IsZero() {
			return false
		}
		e.IncidentID, e.EndedAt = incidentID, at.UTC()
		if summary {
			e.Summary = cnPending
			if !e.CompletedAt.IsZero() {
				e.Summary, notNeeded = cnDone, true
			}
		}
		if transcript {
			e.Transcript = cnPending
		}
		r.settle(e)
		return true
	})
	if err != nil {
		return fmt.Errorf("record the end of call %s: %w", callID, err)
	}
	if notNeeded {
		r.s.metrics.CallNotes.Summaries.WithLabelValues("not_needed").Inc()
	}
	r.poke()
	return nil
}

// completed records that a CALL_COMPLETED note of callID was queued: no summary of the
// call is needed. Only with note.summary on.
func (r *callNoteRunner) completed(callID string) error {
	if summary, _ := r.enabled(); !summary {
		return nil
	}
	return r.update(func(m map[string]*callEnd) bool {
		e := m[callID]
		if e == nil {
			e = &callEnd{TouchedAt: r.now().UTC()}
			m[callID] = e
		}
		if !e.CompletedAt.IsZero() {
			return false
		}
		e.CompletedAt = r.now().UTC()
		return true
	})
}

// settle stamps an entry with nothing left to do.
func (r *callNoteRunner) settle(e *callEnd) {
	if !e.pending() && e.SettledAt.IsZero() && !e.EndedAt.IsZero() {
		e.SettledAt = r.now().UTC()
	}
}

// linked is called once an incident's link is stored: a call that ENDED before it was
// linked (the status was kept by the store) is recorded now.
func (r *callNoteRunner) linked(incidentID string) error {
	if summary, transcript := r.enabled(); !summary && !transcript {
		return nil
	}
	l, ok, err := r.s.store.GetLink(incidentID)
	if err != nil {
		return fmt.Errorf("call notes: read the link of incident %s: %w", incidentID, err)
	}
	if !ok || l.Status != assist.CallEnded || l.CallID == "" {
		return nil
	}
	if err := r.ended(l.CallID, l.IncidentID, l.EndedAt); err != nil {
		// The link's delivery fails and is retried (linking again is harmless), so the
		// call's end is recorded at a later try rather than lost.
		return fmt.Errorf("call notes: record call %s that ended before its link: %w", l.CallID, err)
	}
	return nil
}

// run does the due work until ctx ends; it waits for the fetches it started.
func (r *callNoteRunner) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, callNoteWorkers)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		sweeping  atomic.Bool
		lastSweep = r.now() // the first sweep one endSweepEvery after start
	)
	for {
		due, wait, err := r.due()
		if err != nil {
			r.s.log.Error("call notes: read state", "err", err)
			wait = time.Minute
		}
		// Calls whose ENDED webhook may have been lost (callnotes_pull.go).
		since := r.now().Sub(lastSweep)
		if since >= endSweepEvery && !sweeping.Load() {
			lastSweep, since = r.now(), 0
			sweeping.Store(true)
			wg.Go(func() { defer sweeping.Store(false); r.sweepEnds(ctx) })
		}
		if next := max(endSweepEvery-since, time.Second); wait <= 0 || next < wait {
			wait = next
		}
		for _, id := range due {
			select {
			case slots <- struct{}{}:
			default:
				continue // all slots busy: the next fetch done wakes the loop
			}
			r.mu.Lock()
			r.busy[id] = true
			r.mu.Unlock()
			wg.Go(func() {
				defer func() {
					r.mu.Lock()
					delete(r.busy, id)
					r.mu.Unlock()
					<-slots
					r.poke()
				}()
				r.process(ctx, id)
			})
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// due returns the calls whose work is due now and not in progress, and how long until the
// next one is due (0: none). It forgets settled and stale entries.
func (r *callNoteRunner) due() ([]string, time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.load()
	if err != nil {
		return nil, 0, err
	}
	now := r.now()
	grace := r.s.mapping().SummaryGrace()
	var (
		ids     []string
		wait    time.Duration
		changed bool
	)
	for id, e := range m {
		switch {
		case !e.SettledAt.IsZero():
			delete(r.next, id)
			delete(r.queueFails, id)
			if now.Sub(e.SettledAt) > settledKeep {
				delete(m, id)
				changed = true
			}
			continue
		case e.EndedAt.IsZero(): // a CALL_COMPLETED note of a call not ended (yet)
			if now.Sub(e.TouchedAt) > r.s.cfg.Assist.Pull.MaxAge {
				delete(m, id)
				changed = true
			}
			continue
		case !e.pending() || r.busy[id]:
			continue
		}
		at := e.EndedAt.Add(grace)
		if n, ok := r.next[id]; ok && n.After(at) {
			at = n
		}
		if d := at.Sub(now); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		ids = append(ids, id)
	}
	if changed {
		if err := r.save(m); err != nil {
			return nil, 0, err
		}
	}
	return ids, wait, nil
}

// backoff is the wait before the next GET /call after attempts failures: outbox.retry's
// capped exponential backoff with ±20% jitter.
func (r *callNoteRunner) backoff(attempts int) time.Duration {
	d, maxD := r.s.cfg.Outbox.Retry.Initial, r.s.cfg.Outbox.Retry.Max
	if d <= 0 {
		d = time.Second
	}
	for i := 1; i < attempts && d < maxD; i++ {
		d *= 2
	}
	if maxD > 0 && d > maxD {
		d = maxD
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
