package sidecar

import (
	"log/slog"
	"sync"
	"time"
)

// PollFailReminder is how often a poll that keeps failing is logged again at WARN.
const PollFailReminder = 5 * time.Minute

// failStreak turns a stream of poll outcomes into few log lines: one WARN when polling
// starts failing (with the error), a reminder WARN every PollFailReminder while it keeps
// failing, one INFO when it recovers (how long it failed, how many polls). Every other
// failed poll is logged at DEBUG. Safe for concurrent use.
type failStreak struct {
	mu       sync.Mutex
	what     string // "CAD poll"
	unit     string // what is counted in the log: "polls" ("" = "polls"), "pulls"
	since    time.Time
	reminded time.Time
	polls    int
	last     time.Time // the latest failed poll (admin status)
}

// fail records one failed poll at now and logs it as described on failStreak.
func (f *failStreak) fail(log *slog.Logger, now time.Time, err error) {
	f.failDetail(log, log, now, err)
}

// failDetail is fail with the DEBUG lines on detail (e.g. with the ids of what failed)
// and the WARN lines on log.
func (f *failStreak) failDetail(log, detail *slog.Logger, now time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	f.last = now
	switch {
	case f.polls == 1:
		f.since, f.reminded = now, now
		log.Warn(f.what+" failed", "err", err)
	case now.Sub(f.reminded) >= PollFailReminder:
		f.reminded = now
		log.Warn(f.what+" still failing", "for", now.Sub(f.since).Round(time.Second).String(), f.unitKey(), f.polls, "err", err)
	default:
		detail.Debug(f.what+" failed", f.unitKey(), f.polls, "err", err)
	}
}

// ok records one good poll at now; it logs the recovery when polls were failing.
func (f *failStreak) ok(log *slog.Logger, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polls == 0 {
		return
	}
	log.Info(f.what+" recovered", "failed_for", now.Sub(f.since).Round(time.Second).String(), "failed_"+f.unitKey(), f.polls)
	f.polls = 0
}

// unitKey is the log key of the count: "polls" unless unit says otherwise.
func (f *failStreak) unitKey() string {
	if f.unit == "" {
		return "polls"
	}
	return f.unit
}

// lastFailure is when the latest failed poll was (zero: none since start).
func (f *failStreak) lastFailure() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
