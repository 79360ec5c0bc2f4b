package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A head fails once (blip), another key is then accepted, then the destination goes fully
// down: nothing is accepted after that. The head must not be given up during the outage.
func TestPoisonOutageAfterBlipGivesUpNothing(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4})
	var down atomic.Bool
	var blipped atomic.Bool
	acked := make(chan struct{}, 100)
	s.afterAck = func(Message) { acked <- struct{}{} }
	gate := make(chan struct{})
	deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		if down.Load() {
			return Transient(errors.New("503 down"))
		}
		if m.Key == "a" {
			if blipped.CompareAndSwap(false, true) {
				close(gate)
			}
			return Transient(errors.New("503 blip")) // a1 fails until the outage (then: down)
		}
		return nil
	})
	enqueue(t, s, TopicNote, "a", "a1")
	enqueue(t, s, TopicNote, "a", "a2")
	<-gate
	enqueue(t, s, TopicNote, "b", "b1")
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("b1 not delivered")
	}
	down.Store(true) // full outage from here on
	waitFor(t, "a1 failing 24 times or given up", func() bool {
		if len(deadLetters(t, s, TopicNote)) > 0 {
			return true
		}
		for _, m := range pending(t, s, TopicNote) {
			if string(m.Payload) == "a1" && m.Attempts >= 24 {
				return true
			}
		}
		return false
	})
	if ds := deadLetters(t, s, TopicNote); len(ds) != 0 {
		t.Fatalf("given up during a full outage: %d: %s", len(ds), ds[0].Reason)
	}
}

// One incident only: its head is refused (the CAD would accept others, but none exist).
func TestPoisonSingleKeyUrgentProbe(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	enqueue(t, s, TopicNote, "p", "p1")
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2 CRITICAL")); err != nil {
		t.Fatal(err)
	}
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		if string(m.Payload) == "p1" {
			return Transient(errors.New("503 for this note only"))
		}
		return nil
	})
	waitFor(t, "p1 failing 40 times or given up", func() bool {
		if len(deadLetters(t, s, TopicNote)) > 0 {
			return true
		}
		for _, m := range pending(t, s, TopicNote) {
			if string(m.Payload) == "p1" && m.Attempts >= 40 {
				return true
			}
		}
		return false
	})
	if len(deadLetters(t, s, TopicNote)) == 0 {
		t.Errorf("p1 failed 40 times, critical p2 still blocked behind it (no other key to prove the CAD is up)")
	}
}
