package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestJournalBoundedForgottenPruned(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	adds := func(key string, from, n, dropped int) []JournalAppend {
		a := JournalAppend{Key: key, Dropped: dropped}
		for i := from; i < from+n; i++ {
			a.Entries = append(a.Entries, []byte(fmt.Sprintf("e%d", i)))
		}
		return []JournalAppend{a}
	}
	if err := s.AppendJournal("trace", 3, adds("INC-1", 0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendJournal("trace", 3, append(adds("INC-1", 2, 3, 1), adds("INC-2", 0, 1, 0)...)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key     string
		want    string
		dropped int
	}{
		{"INC-1", "[e2 e3 e4]", 3}, // 2 trimmed + 1 the caller dropped
		{"INC-2", "[e0]", 0},
	}
	for _, c := range cases {
		es, dropped, at, ok, err := s.Journal("trace", c.key)
		if err != nil || !ok || fmt.Sprintf("%s", es) != c.want || dropped != c.dropped || at.IsZero() {
			t.Errorf("journal %s: %s dropped %d at %v ok %v err %v; want %s dropped %d", c.key, es, dropped, at, ok, err, c.want, c.dropped)
		}
	}
	if _, _, _, ok, err := s.Journal("trace", "NONE"); ok || err != nil {
		t.Errorf("journal of an unknown key: ok %v err %v", ok, err)
	}
	// A journal append is no queue: no topic appears, nothing is pending.
	if st := stats(t, s); len(st.Pending) != 2 || st.Pending[""] != 0 {
		t.Errorf("stats after journal appends: %+v", st.Pending)
	}
	if err := s.DeleteJournal("trace", "INC-2"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok, _ := s.Journal("trace", "INC-2"); ok {
		t.Error("DeleteJournal kept the journal")
	}
	// A key that is the prefix of another keeps its own entries only.
	if err := s.AppendJournal("trace", 3, append(adds("INC", 7, 1, 0), adds("INC-10", 8, 1, 0)...)); err != nil {
		t.Fatal(err)
	}
	if es, _, _, _, _ := s.Journal("trace", "INC"); fmt.Sprintf("%s", es) != "[e7]" {
		t.Errorf("journal INC: %s, want [e7]", es)
	}
	if n, err := s.PruneJournal("trace", time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("prune of nothing old: %d %v", n, err)
	}
	if n, err := s.PruneJournal("trace", time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("prune of INC-1, INC, INC-10: %d %v, want 3", n, err)
	}
	left := 0
	_ = s.view(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(kvPrefix + "trace")).ForEach(func(_, _ []byte) error { left++; return nil })
	})
	if left != 0 {
		t.Errorf("%d keys left in kv/trace after pruning every journal", left)
	}
	if err := s.AppendJournal("trace", 0, nil); err == nil {
		t.Error("max 0 accepted")
	}
	s.Close()
	if err := s.AppendJournal("trace", 3, adds("INC-3", 0, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v, want ErrClosed", err)
	}
}

// RetryNow makes a head waiting for its backoff due at once: it is delivered promptly.
func TestRetryNow(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Hour, RetryMax: 2 * time.Hour})
	enqueue(t, s, TopicNote, "K", "p")
	fail := make(chan bool, 1)
	fail <- true
	delivered := make(chan struct{}, 1)
	stop := deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		select {
		case <-fail:
			return errors.New("down")
		default:
			delivered <- struct{}{}
			return nil
		}
	})
	defer stop()
	waitFor(t, "the failed attempt recorded", func() bool {
		ms, _, err := s.PendingOf(TopicNote, "K", 0)
		return err == nil && len(ms) == 1 && ms[0].Attempts == 1 && !ms[0].NextAttempt.IsZero()
	})
	if n, err := s.RetryNow(TopicNote, "OTHER"); err != nil || n != 0 {
		t.Fatalf("RetryNow of another key: %d %v", n, err)
	}
	if n, err := s.RetryNow(TopicNote, ""); err != nil || n != 1 {
		t.Fatalf("RetryNow: %d %v, want 1", n, err)
	}
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered within 10s of RetryNow (its backoff was an hour)")
	}
}
