package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestFreshHeadIsNotHeldByAnOldBackoff: when the head of a key that waits for its retry
// (NextAttempt in the future) is replaced (EnqueueLatest) or expired (the sweep) and a new
// message becomes the key's head, that message was never attempted: it must be delivered
// at once, not after the backoff of the message that is gone. The clock of message times
// is frozen, so an inherited backoff never ends.
func TestFreshHeadIsNotHeldByAnOldBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after v1 failed (attempts 1, backing off for ≥ 30m): make v2 the key's new head
		fresh func(t *testing.T, s *Store, clk *clock)
	}{
		{"EnqueueLatest replaces the backing-off head", func(t *testing.T, s *Store, _ *clock) {
			if replaced, err := s.EnqueueLatest(context.Background(), TopicLink, "inc", []byte("v2")); err != nil || !replaced {
				t.Fatalf("EnqueueLatest = %v, %v; want replaced", replaced, err)
			}
		}},
		{"sweep expires the backing-off head, then Enqueue", func(t *testing.T, s *Store, clk *clock) {
			clk.Add(11 * time.Minute) // past MaxAge, before NextAttempt
			if n, err := s.sweepExpired(); n != 1 || err != nil {
				t.Fatalf("sweep = %d, %v; want 1", n, err)
			}
			enqueue(t, s, TopicLink, "inc", "v2")
		}},
		{"sweep expires the backing-off head, the next message is waiting behind it", func(t *testing.T, s *Store, clk *clock) {
			clk.Add(6 * time.Minute)
			enqueue(t, s, TopicLink, "inc", "v2") // behind v1
			clk.Add(5 * time.Minute)              // v1 expired, v2 not
			if n, err := s.sweepExpired(); n != 1 || err != nil {
				t.Fatalf("sweep = %d, %v; want 1", n, err)
			}
		}},
		{"sweep expires the backing-off head, then Replay", func(t *testing.T, s *Store, clk *clock) {
			clk.Add(11 * time.Minute)
			if n, err := s.sweepExpired(); n != 1 || err != nil {
				t.Fatalf("sweep = %d, %v; want 1", n, err)
			}
			d := deadLetters(t, s, TopicLink)
			if len(d) != 1 {
				t.Fatalf("dead letters %+v", d)
			}
			if err := s.Replay(TopicLink, d[0].Seq); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := openT(t, dbPath(t), Options{Now: clk.Now, MaxAge: 10 * time.Minute,
				RetryInitial: time.Hour, RetryMax: time.Hour, Concurrency: 4})
			enqueue(t, s, TopicLink, "other", "o")
			if _, err := s.EnqueueLatest(context.Background(), TopicLink, "inc", []byte("v1")); err != nil {
				t.Fatal(err)
			}
			v1failed, delivered := make(chan struct{}), make(chan string, 10)
			// closeV1 also runs at the end of the test (before Deliver is stopped), so a
			// handler waiting for v1failed never outlives a failed test.
			closeV1 := sync.OnceFunc(func() { close(v1failed) })
			failed := false
			deliverBg(t, s, TopicLink, func(_ context.Context, m Message) error {
				switch {
				case m.Key == "other":
					<-v1failed // (one key's failure does not open the breaker: see poison_test.go)
					return nil
				case string(m.Payload) == "v1" && !failed:
					failed = true
					defer closeV1()
					return errors.New("409 incident locked")
				}
				delivered <- fmt.Sprintf("%s/%s#%d", m.Key, m.Payload, m.Attempts)
				return nil
			})
			t.Cleanup(closeV1)
			waitFor(t, "v1 backing off, breaker closed", func() bool {
				st := stats(t, s)
				ms := pending(t, s, TopicLink)
				s.mu.Lock()
				ks := s.topics[TopicLink].keys["inc"]
				idle := ks != nil && !ks.inflight
				s.mu.Unlock()
				return st.Backoff[TopicLink].IsZero() && len(ms) == 1 && ms[0].Attempts == 1 && idle
			})
			tc.fresh(t, s, clk)
			select {
			case got := <-delivered:
				t.Logf("delivered %s", got)
			case <-time.After(3 * time.Second):
				t.Fatalf("the new head of inc was not delivered: it waits for the backoff of the message it replaced (Stats %+v)", stats(t, s))
			}
			checkFile(t, s, false)
		})
	}
}
