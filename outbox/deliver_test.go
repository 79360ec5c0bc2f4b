package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func TestFIFOPerKeyParallel(t *testing.T) {
	const (
		keys        = 50
		perKey      = 20
		concurrency = 4
	)
	s := openT(t, dbPath(t), Options{Concurrency: concurrency})

	var (
		mu       sync.Mutex
		order    = map[string][]int{}
		busy     = map[string]bool{}
		cur, top atomic.Int32
		overlap  atomic.Bool
		total    atomic.Int32
	)
	h := func(_ context.Context, m Message) error {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			old := top.Load()
			if n <= old || top.CompareAndSwap(old, n) {
				break
			}
		}
		mu.Lock()
		if busy[m.Key] {
			overlap.Store(true)
		}
		busy[m.Key] = true
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		mu.Lock()
		busy[m.Key] = false
		var i int
		fmt.Sscanf(string(m.Payload), "%d", &i)
		order[m.Key] = append(order[m.Key], i)
		mu.Unlock()
		total.Add(1)
		return nil
	}
	deliverBg(t, s, TopicNote, h)

	// One producer per key, all at once: exercises group commit and wake-ups.
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				if _, err := s.Enqueue(context.Background(), TopicNote, fmt.Sprintf("inc-%02d", k), []byte(fmt.Sprint(i))); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	}
	waitGroup(t, &wg, "the producers")
	waitFor(t, "all delivered", func() bool { return total.Load() == keys*perKey })

	mu.Lock()
	defer mu.Unlock()
	for k, got := range order {
		for i, v := range got {
			if v != i {
				t.Fatalf("key %s delivered out of order: %v", k, got)
			}
		}
	}
	if len(order) != keys {
		t.Fatalf("got %d keys", len(order))
	}
	if overlap.Load() {
		t.Error("two messages of one key were in flight at once")
	}
	if m := top.Load(); m > concurrency || m < 2 {
		t.Errorf("max in flight = %d, want 2..%d", m, concurrency)
	}
	mu.Unlock()
	waitFor(t, "empty queue", func() bool {
		st := stats(t, s)
		return st.Pending[TopicNote] == 0 && st.PendingBytes == 0
	})
	mu.Lock()
}

func TestTransientRetryBlocksOnlyItsKey(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	enqueue(t, s, TopicNote, "a", "a1")
	enqueue(t, s, TopicNote, "a", "a2")
	enqueue(t, s, TopicNote, "b", "b1")

	var (
		mu       sync.Mutex
		log      []string
		attempts []int
		times    []time.Time
	)
	h := func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Payload) == "a1" {
			attempts = append(attempts, m.Attempts)
			times = append(times, time.Now())
			if m.Attempts < 3 {
				return delivery.Transient(errors.New("cad unreachable"))
			}
		}
		log = append(log, string(m.Payload))
		return nil
	}
	deliverBg(t, s, TopicNote, h)
	waitFor(t, "3 delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 3 })

	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[0 1 2 3]" {
		t.Errorf("a1 attempts seen by handler = %v", attempts)
	}
	ia1, ia2, ib1 := index(log, "a1"), index(log, "a2"), index(log, "b1")
	if ia2 < ia1 {
		t.Errorf("a2 delivered before a1: %v", log)
	}
	if ib1 > ia1 {
		t.Errorf("b1 waited for failing key a: %v", log)
	}
	// Backoff: at least ~RetryInitial/2 between attempts (jitter is in [d/2, d]).
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 2*time.Millisecond {
			t.Errorf("retry %d after only %v", i, gap)
		}
	}
}

func index(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestPermanentDeadLetterReplayDrop(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: 5 * time.Millisecond})
	enqueue(t, s, TopicNote, "a", "poison")
	enqueue(t, s, TopicNote, "a", "next")

	var fail atomic.Bool
	fail.Store(true)
	var r recorder
	h := func(ctx context.Context, m Message) error {
		if string(m.Payload) == "poison" && fail.Load() {
			return delivery.Permanentf("cad said 400: bad note")
		}
		return r.handle(ctx, m)
	}
	stop := deliverBg(t, s, TopicNote, h)
	waitFor(t, "next delivered", func() bool { return r.count() == 1 })
	// The handler has returned; its ack is committed by the writer a moment later.
	waitFor(t, "next acked", func() bool { return stats(t, s).Pending[TopicNote] == 0 })

	dl := deadLetters(t, s, TopicNote)
	if len(dl) != 1 || dl[0].Reason != "cad said 400: bad note" || string(dl[0].Payload) != "poison" ||
		dl[0].Key != "a" || dl[0].Attempts != 1 || dl[0].DeadAt.IsZero() {
		t.Fatalf("dead letters = %+v", dl)
	}
	if st := stats(t, s); st.Dead[TopicNote] != 1 || st.Pending[TopicNote] != 0 {
		t.Fatalf("Stats = %+v", st)
	}

	// Replay: delivered again (now succeeding).
	fail.Store(false)
	if err := s.Replay(TopicNote, dl[0].Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replayed delivered", func() bool { return r.count() == 2 })
	waitFor(t, "replayed acked", func() bool { return stats(t, s).Pending[TopicNote] == 0 })
	if got := r.snapshot(); got[1] != "poison" {
		t.Fatalf("delivered %v", got)
	}
	if st := stats(t, s); st.Dead[TopicNote] != 0 {
		t.Fatalf("Stats after replay = %+v", st)
	}
	if err := s.Replay(TopicNote, dl[0].Seq); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Replay = %v, want ErrNotFound", err)
	}

	// Drop.
	fail.Store(true)
	enqueue(t, s, TopicNote, "b", "poison")
	waitFor(t, "dead again", func() bool { return stats(t, s).Dead[TopicNote] == 1 })
	stop()
	dl = deadLetters(t, s, TopicNote)
	if err := s.Drop(TopicNote, dl[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Drop(TopicNote, dl[0].Seq); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Drop = %v, want ErrNotFound", err)
	}
	if n := len(deadLetters(t, s, TopicNote)); n != 0 || stats(t, s).Dead[TopicNote] != 0 {
		t.Fatalf("after Drop: %d dead letters, Stats %+v", n, stats(t, s))
	}
}

func TestHandlerPanicIsPermanent(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	enqueue(t, s, TopicNote, "a", "boom")
	deliverBg(t, s, TopicNote, func(context.Context, Message) error { panic("oops") })
	waitFor(t, "dead letter", func() bool { return stats(t, s).Dead[TopicNote] == 1 })
	if dl := deadLetters(t, s, TopicNote); !strings.Contains(dl[0].Reason, "handler panic: oops") {
		t.Fatalf("reason = %q", dl[0].Reason)
	}
}

func TestRetryAfterSetsNextAttempt(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		want  time.Duration
	}{
		{"honoured", 90 * time.Minute, 90 * time.Minute},
		{"capped at RetryMax", 10 * time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := openT(t, dbPath(t), Options{RetryMax: 2 * time.Hour, MaxAge: 100 * time.Hour, Now: clk.Now})
			enqueue(t, s, TopicNote, "a", "x")
			var calls atomic.Int32
			stop := deliverBg(t, s, TopicNote, func(context.Context, Message) error {
				calls.Add(1)
				return delivery.RetryAfter(errors.New("429 slow down"), tt.after)
			})
			waitFor(t, "attempt recorded", func() bool {
				ms := pending(t, s, TopicNote)
				return len(ms) == 1 && ms[0].Attempts == 1
			})
			time.Sleep(20 * time.Millisecond) // no second attempt: the clock has not moved
			stop()
			m := pending(t, s, TopicNote)[0]
			if !m.NextAttempt.Equal(clk.Now().Add(tt.want)) {
				t.Errorf("NextAttempt = %v, want now+%v", m.NextAttempt, tt.want)
			}
			if m.LastError != "429 slow down" || !m.FirstErrorAt.Equal(clk.Now()) || !m.LastErrorAt.Equal(clk.Now()) {
				t.Errorf("bookkeeping = %+v", m)
			}
			if calls.Load() != 1 {
				t.Errorf("handler called %d times", calls.Load())
			}
		})
	}
}

func TestMaxAgeExpires(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{MaxAge: time.Hour, RetryInitial: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond, Now: clk.Now})
	enqueue(t, s, TopicNote, "a", "old")
	enqueue(t, s, TopicNote, "b", "never-tried")
	var failed atomic.Int32
	var r recorder
	stop := deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		if m.Key == "a" {
			failed.Add(1)
			return errors.New("cad down")
		}
		return r.handle(ctx, m)
	})
	waitFor(t, "b delivered and a failing", func() bool { return r.count() == 1 && failed.Load() >= 1 })
	stop()
	enqueue(t, s, TopicNote, "b", "stale")
	clk.Add(2 * time.Hour)
	deliverBg(t, s, TopicNote, r.handle)
	waitFor(t, "two dead letters", func() bool { return stats(t, s).Dead[TopicNote] == 2 })

	reasons := map[string]string{}
	for _, d := range deadLetters(t, s, TopicNote) {
		reasons[d.Key] = d.Reason
	}
	if !strings.HasPrefix(reasons["a"], "expired after 2h") || !strings.HasSuffix(reasons["a"], ": cad down") {
		t.Errorf("reason of a = %q", reasons["a"])
	}
	if !strings.HasPrefix(reasons["b"], "expired after 2h0m0s: ") {
		t.Errorf("reason of b = %q", reasons["b"])
	}
	if r.count() != 1 {
		t.Errorf("expired message was delivered")
	}
}

func TestReopenWhileFailingKeepsAttempts(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t), RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "a", "x")
	var calls atomic.Int32
	stop := deliverBg(t, s, TopicNote, func(context.Context, Message) error {
		calls.Add(1)
		return errors.New("503")
	})
	waitFor(t, "3 failures", func() bool { return calls.Load() >= 3 })
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, path, Options{RetryInitial: time.Millisecond})
	ms := pending(t, s, TopicNote)
	if len(ms) != 1 || ms[0].Attempts != int(calls.Load()) || ms[0].LastError != "503" || ms[0].FirstErrorAt.IsZero() {
		t.Fatalf("after reopen pending = %+v (handler called %d times)", ms, calls.Load())
	}
	got := make(chan int, 1)
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error { got <- m.Attempts; return nil })
	select {
	case a := <-got:
		if a != ms[0].Attempts {
			t.Errorf("handler saw Attempts %d, want %d", a, ms[0].Attempts)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not redelivered after reopen")
	}
}

func TestCancelledHandlerIsNotAnAttempt(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	enqueue(t, s, TopicNote, "a", "x")
	started := make(chan struct{})
	stop := deliverBg(t, s, TopicNote, func(ctx context.Context, _ Message) error {
		close(started)
		<-ctx.Done()
		return fmt.Errorf("write note: %w", ctx.Err())
	})
	recv(t, started, "the handler to start")
	stop()
	ms := pending(t, s, TopicNote)
	if len(ms) != 1 || ms[0].Attempts != 0 || ms[0].LastError != "" || !ms[0].NextAttempt.IsZero() {
		t.Fatalf("pending after cancel = %+v", ms)
	}
}

func TestEnqueueWakesDelivererPromptly(t *testing.T) {
	// RetryInitial of an hour: any polling would show; delivery must follow the Enqueue.
	s := openT(t, dbPath(t), Options{RetryInitial: time.Hour})
	got := make(chan time.Time, 1)
	deliverBg(t, s, TopicLink, func(context.Context, Message) error { got <- time.Now(); return nil })
	time.Sleep(20 * time.Millisecond) // let Deliver go idle
	start := time.Now()
	enqueue(t, s, TopicLink, "a", "x")
	select {
	case at := <-got:
		if d := at.Sub(start); d > time.Second {
			t.Errorf("delivered %v after Enqueue", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Enqueue did not wake the deliverer")
	}
}

func TestDeliverStopsOnClose(t *testing.T) {
	s, err := Open(dbPath(t), Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "a", "x")
	running := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- s.Deliver(context.Background(), TopicNote, func(context.Context, Message) error {
			running <- struct{}{}
			return nil
		})
	}()
	recv(t, running, "the first delivery")
	if err := s.Deliver(context.Background(), TopicNote, func(context.Context, Message) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "already running") {
		t.Errorf("second Deliver on a topic = %v, want 'already running'", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Deliver after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not stop on Close")
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	s := &Store{opts: Options{RetryInitial: 100 * time.Millisecond, RetryMax: time.Second}}
	tests := []struct {
		attempts int
		max      time.Duration
	}{
		{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			d := s.backoff(tt.attempts, errors.New("x"))
			if d < tt.max/2 || d > tt.max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tt.attempts, d, tt.max/2, tt.max)
			}
		}
	}
}
