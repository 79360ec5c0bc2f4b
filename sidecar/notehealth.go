package sidecar

import (
	"fmt"
	"sync"
	"time"
)

// writeHealth follows the CAD's answers to note writes for readiness (check cad_write):
// since when every write has been refused or failed, and the last failure (its Error(),
// which names the request and status, never the CAD's answer body). Safe for concurrent use.
type writeHealth struct {
	mu       sync.Mutex
	since    time.Time // first failure since the last accepted write; zero = none
	lastErr  string
	failures int
}

// failed records one refused or failed note write.
func (w *writeHealth) failed(now time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		w.since = now
	}
	w.failures++
	w.lastErr = err.Error()
}

// accepted records a note the CAD accepted: every earlier failure is forgotten.
func (w *writeHealth) accepted() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.since, w.lastErr, w.failures = time.Time{}, "", 0
}

// check is the cad_write readiness check at now: not ok once every write failed for longer
// than after (0 = never) while waiting notes remain; degraded while failing for less.
func (w *writeHealth) check(now time.Time, after time.Duration, waiting int) Check {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() || waiting == 0 {
		return Check{OK: true}
	}
	d := now.Sub(w.since)
	detail := fmt.Sprintf("every note write failed for %s (%d attempts, %d notes waiting); last: %s",
		d.Round(time.Second), w.failures, waiting, w.lastErr)
	if after > 0 && d > after {
		return Check{Detail: detail}
	}
	return Check{OK: true, Degraded: true, Detail: detail}
}
