package sidecar

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// pullFails logs the failed notes pulls sparingly, like the failed CAD polls (pollfail.go),
// but per kind of failure instead of per call: while Assist is unreachable every linked
// call's pull fails on every round, and one WARN says so, not one per call per round. A
// kind recovers (one INFO) after a round in which calls were pulled and none failed that
// way. Every failed pull is logged at DEBUG with its call_id. Safe for concurrent use.
type pullFails struct {
	mu      sync.Mutex
	streaks map[string]*failStreak // by kind (pullFailKind)
}

// pullRound collects one round of pulls (pullNotes) for pullFails.end.
type pullRound struct {
	pulled int             // calls pulled, failed or not
	failed map[string]bool // kinds that failed this round
}

// fail records one failed pull of a call in round r: the WARN lines go to log, the DEBUG
// line of every failed pull to detail (which carries the call's ids).
func (p *pullFails) fail(log, detail *slog.Logger, now time.Time, r *pullRound, err error) {
	kind := pullFailKind(err)
	if r.failed == nil {
		r.failed = map[string]bool{}
	}
	r.failed[kind] = true
	p.mu.Lock()
	if p.streaks == nil {
		p.streaks = map[string]*failStreak{}
	}
	st := p.streaks[kind]
	if st == nil {
		st = &failStreak{what: "notes pull", unit: "pulls"}
		p.streaks[kind] = st
	}
	p.mu.Unlock()
	st.failDetail(log.With("kind", kind), detail.With("kind", kind), now, err)
}

// end closes a round: a kind that failed before but not in this round (with calls pulled)
// has recovered.
func (p *pullFails) end(log *slog.Logger, now time.Time, r pullRound) {
	if r.pulled == 0 {
		return // nothing tried: no news about Assist
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for kind, st := range p.streaks {
		if r.failed[kind] {
			continue
		}
		st.ok(log.With("kind", kind), now)
		delete(p.streaks, kind)
	}
}

// pullFailKind names the kind of a failed pull: "http_503" (Assist answered with that
// status), "answer" (an answer that is not a notes page), "local" (the sidecar's own
// store: cursor, outbox) or "unreachable" (no answer: refused, cut, timed out).
func pullFailKind(err error) string {
	var he *assist.HTTPError
	var le localPullError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.StatusCode)
	case errors.As(err, &le):
		return "local"
	case errors.As(err, &se), errors.As(err, &te):
		return "answer"
	}
	return "unreachable"
}

// localPullError marks a pull that failed in the sidecar itself, not at Assist.
type localPullError struct{ err error }

func (e localPullError) Error() string { return e.err.Error() }
func (e localPullError) Unwrap() error { return e.err }
