package sidecar

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The outbox history of the admin API (the dashboard's chart):
//
//	GET /api/v1/history  {"interval_seconds":30,"samples":[{"at","link_depth","note_depth","note_oldest_age_seconds","dead"}]}
//
// One sample per admin.history_interval over the last hour, oldest first, kept in memory
// only (a restart starts an empty history).

// historyWindow is how far back the history goes.
const historyWindow = time.Hour

// HistorySample is the outbox at one moment.
type HistorySample struct {
	At                   time.Time `json:"at"`
	LinkDepth            int       `json:"link_depth"`
	NoteDepth            int       `json:"note_depth"`
	NoteOldestAgeSeconds float64   `json:"note_oldest_age_seconds"`
	Dead                 int       `json:"dead"` // dead letters of every topic
}

// History is GET /api/v1/history's answer.
type History struct {
	IntervalSeconds float64         `json:"interval_seconds"`
	Samples         []HistorySample `json:"samples"`
}

// historyRing keeps the last cap samples; safe for concurrent use.
type historyRing struct {
	interval time.Duration
	mu       sync.Mutex
	buf      []HistorySample // a ring: next is where the next sample goes
	next     int
	full     bool
}

// newHistoryRing holds historyWindow's worth of samples taken every interval (at least 1).
func newHistoryRing(interval time.Duration) *historyRing {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	n := max(1, int(historyWindow/interval))
	return &historyRing{interval: interval, buf: make([]HistorySample, n)}
}

// add appends one sample, dropping the oldest when the ring is full.
func (h *historyRing) add(s HistorySample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf[h.next] = s
	h.next++
	if h.next == len(h.buf) {
		h.next, h.full = 0, true
	}
}

// snapshot returns the samples, oldest first.
func (h *historyRing) snapshot() History {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := History{IntervalSeconds: h.interval.Seconds(), Samples: []HistorySample{}}
	if h.full {
		out.Samples = append(out.Samples, h.buf[h.next:]...)
	}
	out.Samples = append(out.Samples, h.buf[:h.next]...)
	return out
}

// sampleOutbox reads the outbox's depth, oldest note age and dead letters at now.
func sampleOutbox(st *outbox.Store, now time.Time) (HistorySample, error) {
	stats, err := st.Stats()
	if err != nil {
		return HistorySample{}, err
	}
	s := HistorySample{At: now.UTC(), LinkDepth: stats.Pending[outbox.TopicLink], NoteDepth: stats.Pending[outbox.TopicNote]}
	for _, n := range stats.Dead {
		s.Dead += n
	}
	since, ok, err := st.OldestPending(outbox.TopicNote)
	if err != nil {
		return HistorySample{}, err
	}
	if ok {
		s.NoteOldestAgeSeconds = max(0, now.Sub(since).Seconds())
	}
	return s, nil
}

// runHistory samples the outbox now and then every interval until ctx ends (a goroutine
// of Run). A sample that cannot be read (the store closing) is skipped.
func (s *Sidecar) runHistory(ctx context.Context) error {
	take := func() {
		if smp, err := sampleOutbox(s.store, time.Now()); err == nil {
			s.history.add(smp)
		} else if ctx.Err() == nil {
			s.log.Debug("outbox history: sample skipped", "err", err)
		}
	}
	take()
	t := time.NewTicker(s.history.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			take()
		}
	}
}

func (s *Sidecar) historyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"history", func(w http.ResponseWriter, _ *http.Request) {
		apiOK(w, s.history.snapshot())
	})
}
