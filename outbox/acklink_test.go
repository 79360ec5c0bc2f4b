package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// TestPutLinkWithAck: a handler's link is committed in the transaction of its message's
// ack (one commit for both); a status kept before the link is applied and its unlinked
// bytes freed; a handler that fails after asking stores nothing, and its next attempt
// stores the link; outside a handler's context the call says no.
func TestPutLinkWithAck(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond})
	ctx := context.Background()
	if PutLinkWithAck(ctx, Link{IncidentID: "X", CallID: "c"}) {
		t.Fatal("PutLinkWithAck accepted outside a handler")
	}
	if _, _, err := s.SetCallStatus("call-A", StatusStarted, time.Time{}); err != nil {
		t.Fatal(err)
	}
	unlinkedBefore := s.unlinkedBytesNow()
	if unlinkedBefore == 0 {
		t.Fatal("the kept status is not counted as unlinked state")
	}
	enqueue(t, s, TopicLink, "A", "a")
	enqueue(t, s, TopicLink, "B", "b")
	var failedB atomic.Bool
	done := make(chan string, 4)
	stop := deliverBg(t, s, TopicLink, func(ctx context.Context, m Message) error {
		if !PutLinkWithAck(ctx, Link{IncidentID: m.Key, CallID: "call-" + m.Key}) {
			return delivery.Permanentf("PutLinkWithAck refused in a handler")
		}
		if PutLinkWithAck(ctx, Link{IncidentID: m.Key, CallID: "other"}) {
			return delivery.Permanentf("a second link accepted")
		}
		if m.Key == "B" && !failedB.Swap(true) {
			return errors.New("failed after asking") // transient: delivered again
		}
		if _, ok, _ := s.GetLink(m.Key); ok {
			return delivery.Permanentf("the link is visible before the ack")
		}
		done <- m.Key
		return nil
	})
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the messages not delivered within 10s")
		}
	}
	waitFor(t, "both acked", func() bool { return stats(t, s).Pending[TopicLink] == 0 })
	stop()
	for _, k := range []string{"A", "B"} {
		l, ok, err := s.GetLink(k)
		if err != nil || !ok || l.CallID != "call-"+k {
			t.Fatalf("link of %s: %+v %v %v", k, l, ok, err)
		}
		if byCall, ok, _ := s.LinkByCall("call-" + k); !ok || byCall.IncidentID != k {
			t.Fatalf("link by call of %s: %+v %v", k, byCall, ok)
		}
	}
	if l, _, _ := s.GetLink("A"); l.Status != StatusStarted {
		t.Errorf("the status kept before the link not applied: %+v", l)
	}
	if got := s.unlinkedBytesNow(); got != 0 {
		t.Errorf("unlinked bytes %d after the link, want 0", got)
	}
	if dl := deadLetters(t, s, TopicLink); len(dl) != 0 {
		t.Fatalf("dead letters: %+v", dl)
	}
	checkFile(t, s, true)
}

// TestPutLinkWithAckOneCommit: the link and the ack are one commit.
func TestPutLinkWithAckOneCommit(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	enqueue(t, s, TopicLink, "A", "a")
	var before atomic.Int64
	stop := deliverBg(t, s, TopicLink, func(ctx context.Context, m Message) error {
		before.Store(s.Commits())
		PutLinkWithAck(ctx, Link{IncidentID: m.Key, CallID: "call-A"})
		return nil
	})
	waitFor(t, "the link stored", func() bool { _, ok, _ := s.GetLink("A"); return ok })
	waitFor(t, "the ack", func() bool { return stats(t, s).Pending[TopicLink] == 0 })
	stop()
	if n := s.Commits() - before.Load(); n != 1 {
		t.Fatalf("%d commits for the link and the ack, want 1", n)
	}
}

func (s *Store) unlinkedBytesNow() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unlinkedBytes
}
