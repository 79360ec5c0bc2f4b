package sidecar

import (
	"testing"
	"time"
)

// The history ring holds one hour of samples at its interval, oldest first, and drops the
// oldest once full.
func TestHistoryRingBoundedAndOrdered(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		cap      int
	}{
		{30 * time.Second, 120},
		{time.Second, 3600},
		{10 * time.Minute, 6},
		{2 * time.Hour, 1},
		{0, 120}, // unset: the default, 30s
	} {
		h := newHistoryRing(c.interval)
		if len(h.buf) != c.cap {
			t.Fatalf("interval %s: %d samples kept; want %d", c.interval, len(h.buf), c.cap)
		}
		if got := h.snapshot(); len(got.Samples) != 0 || got.Samples == nil {
			t.Fatalf("interval %s: a new ring has %v (want an empty, non-nil list)", c.interval, got.Samples)
		}
		t0 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
		for _, n := range []int{1, c.cap - 1, c.cap, c.cap + 1, 2*c.cap + 3} {
			h := newHistoryRing(c.interval)
			for i := range n {
				h.add(HistorySample{At: t0.Add(time.Duration(i) * time.Second), NoteDepth: i})
			}
			got := h.snapshot().Samples
			if want := min(n, c.cap); len(got) != want {
				t.Fatalf("interval %s, %d added: %d kept; want %d", c.interval, n, len(got), want)
			}
			for i, s := range got {
				if want := n - len(got) + i; s.NoteDepth != want {
					t.Fatalf("interval %s, %d added: sample %d is #%d; want #%d (oldest first, the newest kept)", c.interval, n, i, s.NoteDepth, want)
				}
			}
		}
	}
}
