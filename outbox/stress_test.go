package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/testseed"
)

// stressClock runs at wall speed plus jumps.
type stressClock struct {
	start time.Time
	base  time.Time
	jump  atomic.Int64
}

func (c *stressClock) Now() time.Time {
	return c.base.Add(time.Since(c.start) + time.Duration(c.jump.Load()))
}

// TestStressInvariants drives random interleavings of Enqueue, EnqueueLatest, deliveries
// (success, transient, permanent), Replay, Drop, expiry sweeps and reopenings, and checks
// after each round that the file and the index are consistent, and at the end that every
// acknowledged note was delivered, keys were never delivered twice at once, and seqs of a
// key were handed out in ascending order.
func TestStressInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP-OK: -short: stress test")
	}
	// The seed (SIDECAR_TEST_SEED, printed on failure) fixes the random choices, not the
	// goroutines' interleaving.
	seed := testseed.Seed(t)
	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x57E55))
	intN := func(n int) int {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.IntN(n)
	}
	path := dbPath(t)
	clk := &stressClock{start: time.Now(), base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := Options{Concurrency: 4, RetryInitial: 2 * time.Millisecond, RetryMax: 10 * time.Millisecond, MaxAge: time.Hour, Now: clk.Now}
	var (
		mu        sync.Mutex
		enqueued  = map[string]bool{} // note ids acknowledged by Enqueue
		acked     = map[string]bool{}
		inflight  = map[string]bool{}
		lastSeq   = map[string]uint64{}
		latest    = map[string]string{} // link key → last EnqueueLatest payload
		ackedLink = map[string]string{}
		failMode  atomic.Bool
	)
	handler := func(tp Topic) Handler {
		return func(_ context.Context, m Message) error {
			id := string(tp) + "/" + m.Key
			mu.Lock()
			if inflight[id] {
				mu.Unlock()
				t.Errorf("%s delivered twice at once", id)
				return errors.New("dup")
			}
			if m.Seq < lastSeq[id] {
				t.Errorf("%s: seq %d handed out after %d", id, m.Seq, lastSeq[id])
			}
			lastSeq[id] = m.Seq
			inflight[id] = true
			mu.Unlock()
			defer func() { mu.Lock(); inflight[id] = false; mu.Unlock() }()
			if intN(3) == 0 {
				time.Sleep(time.Duration(intN(500)) * time.Microsecond)
			}
			if failMode.Load() {
				switch intN(10) {
				case 0, 1:
					return delivery.Transient(errors.New("503"))
				case 2:
					return delivery.Permanent(errors.New("400"))
				}
			}
			mu.Lock()
			if tp == TopicNote {
				acked[string(m.Payload)] = true
			} else {
				ackedLink[m.Key] = string(m.Payload)
			}
			mu.Unlock()
			return nil
		}
	}
	ctx := context.Background()
	var next atomic.Int64
	for round := range 8 {
		s, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		failMode.Store(round < 7)
		checkFile(t, s, false)
		dctx, cancel := context.WithCancel(ctx)
		var dwg sync.WaitGroup
		for _, tp := range []Topic{TopicNote, TopicLink} {
			dwg.Add(1)
			go func() {
				defer dwg.Done()
				_ = s.Deliver(dctx, tp, handler(tp))
			}()
		}
		var pwg sync.WaitGroup
		for range 4 {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				for range 150 {
					op := intN(20)
					func() {
						switch {
						case op < 10:
							id := fmt.Sprintf("n%d", next.Add(1))
							key := fmt.Sprintf("k%d", intN(6))
							ok, err := s.Enqueue(ctx, TopicNote, key, []byte(id), id)
							if err != nil || !ok {
								t.Errorf("Enqueue: %v %v", ok, err)
								return
							}
							mu.Lock()
							enqueued[id] = true
							mu.Unlock()
						case op < 15:
							key := fmt.Sprintf("l%d", intN(3))
							mu.Lock() // serialise per key so "latest" is well defined
							p := fmt.Sprintf("v%d", next.Add(1))
							_, err := s.EnqueueLatest(ctx, TopicLink, key, []byte(p))
							if err == nil {
								latest[key] = p
							}
							mu.Unlock()
							if err != nil {
								t.Errorf("EnqueueLatest: %v", err)
							}
						case op < 18:
							tp := []Topic{TopicNote, TopicLink}[intN(2)]
							ds, _ := s.DeadLetters(tp)
							if len(ds) > 0 {
								d := ds[intN(len(ds))]
								if op < 17 || tp == TopicLink {
									_ = s.Replay(tp, d.Seq)
								} else if tp == TopicLink {
									_ = s.Drop(tp, d.Seq)
								}
							}
						case op == 18:
							if intN(4) == 0 {
								clk.jump.Add(int64(25 * time.Minute))
							}
							if _, err := s.sweepExpired(); err != nil {
								t.Errorf("sweep: %v", err)
							}
						default:
							checkFile(t, s, false)
							time.Sleep(time.Millisecond)
						}
					}()
				}
			}()
		}
		waitGroup(t, &pwg, "the producers")
		if round == 7 {
			// Drain: replay every dead letter until nothing is left.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				for _, tp := range []Topic{TopicNote, TopicLink} {
					for _, d := range deadLetters(t, s, tp) {
						_ = s.Replay(tp, d.Seq)
					}
				}
				st := stats(t, s)
				if st.Pending[TopicNote]+st.Pending[TopicLink]+st.Dead[TopicNote]+st.Dead[TopicLink] == 0 && st.Keys[TopicNote]+st.Keys[TopicLink] == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		} else {
			time.Sleep(time.Duration(intN(30)) * time.Millisecond)
		}
		cancel()
		waitGroup(t, &dwg, "the deliverers to stop")
		checkFile(t, s, true)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	s := openT(t, path, opts)
	st := stats(t, s)
	if st.Pending[TopicNote]+st.Pending[TopicLink] != 0 {
		t.Fatalf("not drained: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for id := range enqueued {
		if !acked[id] {
			lost++
			if lost < 10 {
				t.Errorf("note %s acknowledged by Enqueue, never delivered", id)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d notes lost", lost, len(enqueued))
	}
	for k, p := range latest {
		if ackedLink[k] != p {
			t.Errorf("link %s: latest %s, last delivered %s", k, p, ackedLink[k])
		}
	}
}
