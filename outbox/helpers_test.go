package outbox

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if os.Getenv("OUTBOX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func dbPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "data", "sidecar.db")
}

// openT opens path and closes the store at the end of the test.
func openT(t *testing.T, path string, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	s, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func enqueue(t *testing.T, s *Store, topic Topic, key, payload string, dedup ...string) {
	t.Helper()
	ok, err := s.Enqueue(context.Background(), topic, key, []byte(payload), dedup...)
	if err != nil || !ok {
		t.Fatalf("Enqueue(%s, %q): %v, %v", key, payload, ok, err)
	}
}

// deliverBg runs Deliver in the background; the returned stop cancels it and returns its
// error (checked to be the cancellation).
func deliverBg(t *testing.T, s *Store, topic Topic, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Deliver(ctx, topic, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Deliver returned %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Deliver did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func stats(t *testing.T, s *Store) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func pending(t *testing.T, s *Store, topic Topic) []Message {
	t.Helper()
	ms, err := s.Pending(topic, 0)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return ms
}

func deadLetters(t *testing.T, s *Store, topic Topic) []DeadLetter {
	t.Helper()
	ds, err := s.DeadLetters(topic)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	return ds
}

// recorder is a handler that records payloads in delivery order.
type recorder struct {
	mu   sync.Mutex
	got  []string
	keys map[string][]string
}

func (r *recorder) handle(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(m.Payload))
	if r.keys == nil {
		r.keys = map[string][]string{}
	}
	r.keys[m.Key] = append(r.keys[m.Key], string(m.Payload))
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}
