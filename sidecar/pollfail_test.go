package sidecar

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestFailStreakLogsSparingly: a day of failed polls every 5 s (17,280 of them) logs one
// WARN at the start, a reminder every 5 minutes and one INFO at recovery, not a line per
// poll; a second outage starts over with its own first WARN.
func TestFailStreakLogsSparingly(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f := failStreak{what: "CAD poll"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const every, polls = 5 * time.Second, 17280
	err := errors.New("GET /incidents: connection refused")
	now := t0
	for i := 0; i < polls; i++ {
		now = t0.Add(time.Duration(i) * every)
		f.fail(log, now, err)
	}
	f.ok(log, now.Add(every))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	count := func(sub string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, sub) {
				n++
			}
		}
		return n
	}
	wantReminders := int((polls - 1) * every / PollFailReminder) // 24h / 5min - a partial last one
	if got := count(`level=WARN msg="CAD poll failed"`); got != 1 {
		t.Errorf("%d start WARN lines, want 1:\n%s", got, lines[0])
	}
	if got := count(`level=WARN msg="CAD poll still failing"`); got != wantReminders {
		t.Errorf("%d reminder lines, want %d", got, wantReminders)
	}
	if got := count(`level=INFO msg="CAD poll recovered"`); got != 1 {
		t.Errorf("%d recovery lines, want 1", got)
	}
	if len(lines) != 2+wantReminders {
		t.Errorf("%d lines in all for %d failed polls, want %d", len(lines), polls, 2+wantReminders)
	}
	if !strings.Contains(lines[0], "connection refused") {
		t.Errorf("first WARN lacks the error: %s", lines[0])
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "failed_for=24h0m0s") || !strings.Contains(last, "failed_polls=17280") {
		t.Errorf("recovery line lacks duration or count: %s", last)
	}
	// Good polls log nothing; a new outage gets its own first WARN.
	buf.Reset()
	f.ok(log, now.Add(2*every))
	f.fail(log, now.Add(3*every), err)
	f.fail(log, now.Add(4*every), err)
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), `msg="CAD poll failed"`) {
		t.Errorf("second outage logged %d lines, want the one start WARN:\n%s", got, buf.String())
	}
}
