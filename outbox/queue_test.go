package outbox

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func TestEnqueueDurableAcrossReopen(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		enqueue(t, s, TopicNote, "inc-1", fmt.Sprintf("n%d", i))
	}
	enqueue(t, s, TopicLink, "inc-2", "link")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Enqueue(context.Background(), TopicNote, "k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
	}

	s = openT(t, path, Options{})
	st := stats(t, s)
	if st.Pending[TopicNote] != 3 || st.Pending[TopicLink] != 1 || st.PendingBytes != 10 {
		t.Fatalf("after reopen Stats = %+v", st)
	}
	var r recorder
	deliverBg(t, s, TopicNote, r.handle)
	waitFor(t, "3 notes", func() bool { return r.count() == 3 })
	if got, want := r.snapshot(), []string{"n0", "n1", "n2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	waitFor(t, "empty note queue", func() bool { return stats(t, s).Pending[TopicNote] == 0 })
	if st := stats(t, s); st.Pending[TopicLink] != 1 || st.PendingBytes != 4 {
		t.Fatalf("Stats after delivery = %+v", st)
	}
}

func TestDedup(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enqueue(t, s, TopicNote, "inc", "first", "idem-a", "idem-b")
	before := stats(t, s)

	tests := []struct {
		name  string
		dedup []string
		want  bool
	}{
		{"shares one key", []string{"idem-b", "idem-c"}, false},
		{"same key", []string{"idem-a"}, false},
		{"empty keys are ignored", []string{""}, true},
		{"no keys", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := stats(t, s)
			ok, err := s.Enqueue(ctx, TopicNote, "inc", []byte("dup"), tt.dedup...)
			if err != nil || ok != tt.want {
				t.Fatalf("Enqueue = %v, %v; want %v", ok, err, tt.want)
			}
			if !tt.want && !reflect.DeepEqual(stats(t, s), st) {
				t.Fatalf("duplicate changed Stats: %+v -> %+v", st, stats(t, s))
			}
		})
	}
	if seen, _ := s.Seen("idem-c"); seen {
		t.Fatal("idem-c recorded by a rejected duplicate")
	}
	if seen, _ := s.Seen("idem-a"); !seen {
		t.Fatal("idem-a not seen")
	}
	if got := stats(t, s).Pending[TopicNote]; got != before.Pending[TopicNote]+2 {
		t.Fatalf("pending = %d", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, path, Options{})
	ok, err := s.Enqueue(ctx, TopicNote, "inc", []byte("again"), "idem-b")
	if err != nil || ok {
		t.Fatalf("after reopen Enqueue = %v, %v; want false (dedup survives reopen)", ok, err)
	}
}

func TestDedupRetentionAndPrune(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{DedupRetention: time.Hour, Now: clk.Now})
	enqueue(t, s, TopicNote, "inc", "a", "k1")
	clk.Add(30 * time.Minute)
	enqueue(t, s, TopicNote, "inc", "b", "k2")
	clk.Add(45 * time.Minute) // k1 is 75m old, k2 45m

	if seen, _ := s.Seen("k1"); seen {
		t.Fatal("k1 should be past retention")
	}
	if seen, _ := s.Seen("k2"); !seen {
		t.Fatal("k2 should still be remembered")
	}
	n, err := s.prune()
	if err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	// k1 expired: accepted again; k2 still a duplicate.
	if ok, err := s.Enqueue(context.Background(), TopicNote, "inc", []byte("c"), "k1"); !ok || err != nil {
		t.Fatalf("re-enqueue with expired key = %v, %v", ok, err)
	}
	if ok, _ := s.Enqueue(context.Background(), TopicNote, "inc", []byte("d"), "k2"); ok {
		t.Fatal("k2 accepted twice")
	}
	// Re-recording k1 gave it a new time: a prune now must keep it.
	if n, err := s.prune(); err != nil || n != 0 {
		t.Fatalf("second prune = %d, %v; want 0", n, err)
	}
	if seen, _ := s.Seen("k1"); !seen {
		t.Fatal("re-recorded k1 lost by prune")
	}
}

func TestMaxBytes(t *testing.T) {
	s := openT(t, dbPath(t), Options{MaxBytes: 100})
	ctx := context.Background()
	payload := strings.Repeat("x", 60)
	enqueue(t, s, TopicNote, "a", payload)
	enqueue(t, s, TopicNote, "b", payload) // 60 < 100: accepted, now 120
	before := stats(t, s)

	ok, err := s.Enqueue(ctx, TopicNote, "c", []byte(payload), "idem-full")
	if !errors.Is(err, ErrFull) || ok {
		t.Fatalf("Enqueue over budget = %v, %v; want ErrFull", ok, err)
	}
	if after := stats(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("ErrFull changed Stats: %+v -> %+v", before, after)
	}
	if seen, _ := s.Seen("idem-full"); seen {
		t.Fatal("ErrFull recorded the idempotency key")
	}

	var r recorder
	stop := deliverBg(t, s, TopicNote, r.handle)
	waitFor(t, "drain", func() bool { return stats(t, s).PendingBytes == 0 })
	stop()
	if ok, err := s.Enqueue(ctx, TopicNote, "c", []byte(payload), "idem-full"); !ok || err != nil {
		t.Fatalf("Enqueue after drain = %v, %v", ok, err)
	}
}

func TestEnqueueCancelledContext(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Documented: if ctx is already done, nothing is written and ctx's error is returned.
	before := stats(t, s)
	ok, err := s.Enqueue(ctx, TopicNote, "k", []byte("x"), "idem")
	if ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Enqueue with a cancelled ctx = %v, %v; want false, context.Canceled", ok, err)
	}
	if seen, _ := s.Seen("idem"); seen {
		t.Fatal("a refused Enqueue recorded its idempotency key")
	}
	if after := stats(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("a refused Enqueue changed Stats: %+v -> %+v", before, after)
	}
	if ms := pending(t, s, TopicNote); len(ms) != 0 {
		t.Fatalf("a refused Enqueue left %d messages", len(ms))
	}
}

func TestInvalidArguments(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, "", "k", nil); err == nil {
		t.Error("empty topic accepted")
	}
	if _, err := s.Enqueue(ctx, TopicNote, "k", nil, strings.Repeat("k", maxDedupKeyLen+1)); err == nil {
		t.Error("huge idempotency key accepted")
	}
	if err := s.Deliver(ctx, TopicNote, nil); err == nil {
		t.Error("nil handler accepted")
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := dbPath(t)
	openT(t, path, Options{})
	start := time.Now()
	s2, err := Open(path, Options{})
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Open took %v", d)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another process") {
		t.Errorf("error %q should name the path and say another process holds it", err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	m := Message{Key: "inc-ü", Payload: []byte{0, 1, 2}, Attempts: 3, CreatedAt: at, NextAttempt: at.Add(time.Second),
		FirstErrorAt: at, LastErrorAt: at.Add(2 * time.Second), LastError: "boom", ReplayedAt: at.Add(time.Hour)}
	got, err := decodeMessage(encodeMessage(&m), TopicNote, 7)
	m.Topic, m.Seq = TopicNote, 7
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("message round trip = %+v, %v; want %+v", got, err, m)
	}
	d := DeadLetter{Message: m, Reason: "400 bad", DeadAt: at}
	gd, err := decodeDead(encodeDead(&d), TopicNote, 7)
	if err != nil || !reflect.DeepEqual(gd, d) {
		t.Fatalf("dead round trip = %+v, %v", gd, err)
	}
	h, err := decodeHeader(encodeMessage(&m))
	if err != nil || string(h.key) != m.Key || h.payloadLen != 3 || !h.nextAttempt.Equal(m.NextAttempt) {
		t.Fatalf("header = %+v, %v", h, err)
	}
	for _, bad := range [][]byte{nil, {9}, {recordV1, 200}} {
		if _, err := decodeMessage(bad, TopicNote, 1); !errors.Is(err, errCorrupt) {
			t.Errorf("decode(%v) = %v, want errCorrupt", bad, err)
		}
	}
}

func TestDedupConcurrentProducers(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	var wg sync.WaitGroup
	var added atomic.Int32
	for i := range 32 {
		wg.Go(func() {
			ok, err := s.Enqueue(context.Background(), TopicNote, "inc", []byte(fmt.Sprint(i)), "same-note")
			if err != nil {
				t.Errorf("Enqueue: %v", err)
			}
			if ok {
				added.Add(1)
			}
		})
	}
	waitGroup(t, &wg, "the producers")
	if added.Load() != 1 || stats(t, s).Pending[TopicNote] != 1 {
		t.Fatalf("%d producers won with one idempotency key; Stats %+v", added.Load(), stats(t, s))
	}
}

func TestReplayGoesToEndOfKeyFIFO(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	enqueue(t, s, TopicNote, "a", "bad")
	var fail atomic.Bool
	fail.Store(true)
	var r recorder
	h := func(ctx context.Context, m Message) error {
		if string(m.Payload) == "bad" && fail.Load() {
			return delivery.Permanentf("422")
		}
		return r.handle(ctx, m)
	}
	stop := deliverBg(t, s, TopicNote, h)
	waitFor(t, "dead letter", func() bool { return stats(t, s).Dead[TopicNote] == 1 })
	stop()
	enqueue(t, s, TopicNote, "a", "later")
	dl := deadLetters(t, s, TopicNote)
	fail.Store(false)
	if err := s.Replay(TopicNote, dl[0].Seq); err != nil {
		t.Fatal(err)
	}
	ms := pending(t, s, TopicNote)
	if len(ms) != 2 || string(ms[1].Payload) != "bad" || ms[1].Seq <= dl[0].Seq || ms[1].Attempts != 0 ||
		ms[1].LastError != "" || ms[1].ReplayedAt.IsZero() || !ms[1].CreatedAt.Equal(dl[0].CreatedAt) {
		t.Fatalf("pending after Replay = %+v", ms)
	}
	deliverBg(t, s, TopicNote, h)
	waitFor(t, "both delivered", func() bool { return r.count() == 2 })
	if got := r.snapshot(); fmt.Sprint(got) != "[later bad]" {
		t.Fatalf("delivered %v", got)
	}
}
