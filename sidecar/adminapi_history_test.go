package sidecar_test

import (
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// GET /api/v1/history: a sample at start, then one per admin.history_interval, oldest
// first, each with the outbox's counts.
func TestAdminAPIHistory(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.HistoryInterval = time.Second }})
	var h sidecar.History
	waitFor(t, 20*time.Second, "three history samples", func() bool {
		e.api(t, "GET", "/api/v1/history", "", &h)
		return len(h.Samples) >= 3
	})
	if h.IntervalSeconds != 1 {
		t.Fatalf("interval_seconds %v; want 1", h.IntervalSeconds)
	}
	for i, s := range h.Samples {
		if s.At.IsZero() || s.At.Location() != time.UTC {
			t.Fatalf("sample %d at %v: want a UTC time", i, s.At)
		}
		if i > 0 && !s.At.After(h.Samples[i-1].At) {
			t.Fatalf("samples out of order: %v then %v", h.Samples[i-1].At, s.At)
		}
		if s.LinkDepth != 0 || s.NoteDepth != 0 || s.Dead != 0 || s.NoteOldestAgeSeconds != 0 {
			t.Fatalf("sample %d of an idle sidecar: %+v", i, s)
		}
	}
	// A note waits while the CAD is down: a later sample counts it, with its age.
	e.cad.SetDown(true)
	postNote(t, e, "INC-H1", "history note", false)
	waitFor(t, 20*time.Second, "a sample with the waiting note", func() bool {
		e.api(t, "GET", "/api/v1/history", "", &h)
		last := h.Samples[len(h.Samples)-1]
		return last.NoteDepth == 1 && last.NoteOldestAgeSeconds > 0
	})
}
