package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
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
			return delivery.Transient(errors.New("503 down"))
		}
		if m.Key == "a" {
			if blipped.CompareAndSwap(false, true) {
				close(gate)
			}
			return delivery.Transient(errors.New("503 blip")) // a1 fails until the outage (then: down)
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
func TestPoisonSingleKeyNotBlocked(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	enqueue(t, s, TopicNote, "p", "p1")
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2 CRITICAL")); err != nil {
		t.Fatal(err)
	}
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		if string(m.Payload) == "p1" {
			return delivery.Transient(errors.New("503 for this note only"))
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

// lone is a destination that refuses the payloads in refuse (transiently) and accepts and
// records every other message: with one key only, nothing else can prove it is up.
type lone struct {
	mu      sync.Mutex
	refuse  map[string]bool
	down    atomic.Bool
	got     []string
	refused atomic.Int32
}

func (l *lone) handle(_ context.Context, m Message) error {
	if l.down.Load() {
		return delivery.Transient(errors.New("503 down"))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refuse[string(m.Payload)] {
		l.refused.Add(1)
		return delivery.Transient(errors.New("503 for this note only"))
	}
	l.got = append(l.got, string(m.Payload))
	return nil
}

func (l *lone) accepted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// TestPoisonLoneKeyUrgentProbe: one incident only; its head is refused, a critical note
// waits behind it (directly, or with a plain note between). After UrgentAttempts failures
// the message directly behind the head is tried out of order; accepted, it proves the head
// is poison: the head is given up and the rest follows, in order.
func TestPoisonLoneKeyUrgentProbe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue []string // "!" prefix: urgent
		want  []string
	}{
		{"urgent next", []string{"p1", "!p2", "p3"}, []string{"p2", "p3"}},
		{"urgent third", []string{"p1", "p2", "!p3", "p4"}, []string{"p2", "p3", "p4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
			for _, v := range tc.queue {
				if strings.HasPrefix(v, "!") {
					if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte(v[1:])); err != nil {
						t.Fatal(err)
					}
					continue
				}
				enqueue(t, s, TopicNote, "p", v)
			}
			l := &lone{refuse: map[string]bool{"p1": true}}
			deliverBg(t, s, TopicNote, l.handle)
			waitFor(t, "the rest delivered and committed", func() bool {
				return len(l.accepted()) == len(tc.want) && stats(t, s).Pending[TopicNote] == 0
			})
			if got := l.accepted(); !slices.Equal(got, tc.want) {
				t.Errorf("delivered %v, want %v", got, tc.want)
			}
			ds := deadLetters(t, s, TopicNote)
			// UrgentAttempts (3) failures, the try behind it accepted, then one more try of
			// p1 at once, refused: given up after 4 attempts.
			if len(ds) != 1 || string(ds[0].Payload) != "p1" || ds[0].Attempts != 4 || !strings.HasPrefix(ds[0].Reason, "given up after 4 attempts") {
				t.Fatalf("dead letters = %+v; want p1 given up after 4 attempts", ds)
			}
			// 4 counted attempts, plus the uncounted second try back to back before p2 was
			// sent ahead (a destination just back often fails the first call).
			if n := l.refused.Load(); n != 5 {
				t.Errorf("p1 tried %d times, want 5", n)
			}
			if st := stats(t, s); st.GivenUp[TopicNote] != 1 || st.Pending[TopicNote] != 0 {
				t.Errorf("stats given up %v pending %v; want 1, 0", st.GivenUp, st.Pending)
			}
		})
	}
}

// TestPoisonLoneKeyOutageGivesUpNothing: one incident, the destination down: the urgent
// message tried out of order is refused too, so nothing is given up, and the order is kept.
func TestPoisonLoneKeyOutageGivesUpNothing(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	enqueue(t, s, TopicNote, "p", "p1")
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2")); err != nil {
		t.Fatal(err)
	}
	l := &lone{}
	l.down.Store(true)
	deliverBg(t, s, TopicNote, l.handle)
	waitFor(t, "p1 failing 24 times and p2 tried out of order", func() bool {
		ms := pending(t, s, TopicNote)
		return len(ms) == 2 && ms[0].Attempts >= 24 && ms[1].Attempts > 0
	})
	if ds := deadLetters(t, s, TopicNote); len(ds) != 0 {
		t.Fatalf("given up during an outage: %+v", ds)
	}
	l.down.Store(false)
	waitFor(t, "both delivered once the destination is back", func() bool { return len(l.accepted()) == 2 })
	if got := l.accepted(); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Errorf("delivered %v, want [p1 p2]", got)
	}
}

// TestPoisonUrgentDeeperBehindHead: the urgent message is the third of its key; the head
// is given up after UrgentAttempts strikes (others accepted meanwhile), not MaxAttempts.
func TestPoisonUrgentDeeperBehindHead(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4, UrgentAttempts: 4})
	enqueue(t, s, TopicNote, "p", "p1")
	enqueue(t, s, TopicNote, "p", "p2")
	enqueue(t, s, TopicNote, "p", "p3")
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p4 urgent")); err != nil {
		t.Fatal(err)
	}
	p := newPicky(t, s, func(m Message) bool { return string(m.Payload) == "p1" })
	deliverBg(t, s, TopicNote, p.handle)
	waitFor(t, "p1 given up and the rest delivered", func() bool { return len(p.accepted("p")) == 3 })
	ds := deadLetters(t, s, TopicNote)
	if len(ds) != 1 || ds[0].Attempts != 4 || ds[0].Strikes != 4 {
		t.Fatalf("dead letters = %+v; want p1 given up after 4 attempts, 4 strikes", ds)
	}
	// With UrgentAttempts strikes the head is given up before the out-of-order try: the
	// order of the rest is kept.
	if got := p.accepted("p"); !slices.Equal(got, []string{"p2", "p3", "p4 urgent"}) {
		t.Errorf("delivered %v", got)
	}
}

// TestPoisonStrikesKeptAcrossRestart: strikes are in the record: a restart neither forgets
// nor repeats them.
func TestPoisonStrikesKeptAcrossRestart(t *testing.T) {
	path := dbPath(t)
	o := Options{Logger: testLogger(t), RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4}
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "p", "p1")
	enqueue(t, s, TopicNote, "p", "p2")
	refuse := func(m Message) bool { return string(m.Payload) == "p1" }
	p := newPicky(t, s, refuse)
	stop := deliverBg(t, s, TopicNote, p.handle)
	head := func(s *Store) Message {
		for _, m := range pending(t, s, TopicNote) {
			if string(m.Payload) == "p1" {
				return m
			}
		}
		return Message{}
	}
	waitFor(t, "p1 with 3 strikes", func() bool { return head(s).Strikes >= 3 })
	stop()
	before := head(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, o)
	after := head(s)
	if after.Strikes != before.Strikes || after.Attempts != before.Attempts || after.Strikes == 0 {
		t.Fatalf("after restart attempts %d strikes %d, before %d %d", after.Attempts, after.Strikes, before.Attempts, before.Strikes)
	}
	p = newPicky(t, s, refuse)
	deliverBg(t, s, TopicNote, p.handle)
	waitFor(t, "p1 given up", func() bool { return len(p.accepted("p")) == 1 })
	ds := deadLetters(t, s, TopicNote)
	if len(ds) != 1 || ds[0].Strikes != 8 || ds[0].Attempts != before.Attempts+8-before.Strikes {
		t.Fatalf("dead letters = %+v; want 8 strikes after %d attempts", ds, before.Attempts+8-before.Strikes)
	}
}

// TestPoisonUrgentWakesLoadedHead: after a restart the index knows the head's failures
// (from its record): an urgent message queued behind a head waiting an hour for its retry
// is tried at once, and accepted it gives the head up, without another attempt of the head.
func TestPoisonUrgentWakesLoadedHead(t *testing.T) {
	path := dbPath(t)
	o := Options{Logger: testLogger(t), RetryInitial: time.Millisecond, RetryMax: time.Hour}
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "p", "p1")
	stop := deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		if m.Attempts >= 2 { // the third failure: retry in an hour
			return delivery.RetryAfter(delivery.Transient(errors.New("503")), time.Hour)
		}
		return delivery.Transient(errors.New("503"))
	})
	waitFor(t, "p1 failing 3 times", func() bool {
		ms := pending(t, s, TopicNote)
		return len(ms) == 1 && ms[0].Attempts == 3
	})
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, o)
	s.mu.Lock()
	failures := s.topics[TopicNote].keys["p"].failures
	s.mu.Unlock()
	if failures != 3 {
		t.Errorf("loaded head failures = %d, want 3", failures)
	}
	l := &lone{refuse: map[string]bool{"p1": true}}
	deliverBg(t, s, TopicNote, l.handle)
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the urgent p2 delivered and p1 given up", func() bool {
		return len(l.accepted()) == 1 && len(deadLetters(t, s, TopicNote)) == 1
	})
	// Its 3 attempts before the restart; woken by p2 it is tried at once (not after its
	// hour of backoff) and refused, p2 is tried ahead and accepted, p1 once more, refused.
	if ds := deadLetters(t, s, TopicNote); len(ds) != 1 || string(ds[0].Payload) != "p1" || ds[0].Attempts != 5 {
		t.Fatalf("dead letters = %+v; want p1 given up after 5 attempts", ds)
	}
	if n := l.refused.Load(); n != 3 {
		t.Errorf("p1 tried %d times after the restart, want 3 (woken by p2, its second try back to back, and right after p2 was accepted)", n)
	}
}

func TestCodecStrikes(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name     string
		m        Message
		ver      byte
		strikes  int
		attempts int
	}{
		{"none", Message{Key: "k", Attempts: 5}, recordV1, 0, 5},
		{"urgent", Message{Key: "k", Attempts: 5, Urgent: true}, recordV2, 0, 5},
		{"strikes", Message{Key: "k", Attempts: 5, Strikes: 2}, recordV3, 2, 5},
		{"urgent strikes", Message{Key: "k", Attempts: 5, Strikes: 2, Urgent: true}, recordV3, 2, 5},
		{"strikes above attempts", Message{Key: "k", Attempts: 1, Strikes: 3}, recordV3, 1, 1},
		{"replayed (attempts 0)", Message{Key: "k", Attempts: 0, Strikes: 3}, recordV1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.CreatedAt, tc.m.Payload = at, []byte("x")
			b := encodeMessage(&tc.m)
			if b[0] != tc.ver {
				t.Errorf("version %#x, want %#x", b[0], tc.ver)
			}
			m, err := decodeMessage(b, TopicNote, 1)
			if err != nil || m.Strikes != tc.strikes || m.Attempts != tc.attempts || m.Urgent != tc.m.Urgent || string(m.Payload) != "x" || !m.CreatedAt.Equal(at) {
				t.Fatalf("decode = %+v, %v", m, err)
			}
			h, err := decodeHeader(b)
			if err != nil || h.strikes != tc.strikes || h.attempts != tc.attempts || h.urgent != tc.m.Urgent || h.payloadLen != 1 {
				t.Fatalf("header = %+v, %v", h, err)
			}
			d, err := decodeDead(encodeDead(&DeadLetter{Message: m, Reason: "r"}), TopicNote, 1)
			if err != nil || d.Strikes != tc.strikes {
				t.Fatalf("dead = %+v, %v", d, err)
			}
		})
	}
	// A 0x03 record whose strikes are above its attempts (a replayed message rewritten by
	// an older encoder) reads as strikes ≤ attempts.
	b := []byte{recordV3, 0}
	b = appendBytes(b, []byte("k"))
	b = binary.AppendUvarint(b, 0) // attempts
	b = binary.AppendUvarint(b, 7) // strikes
	for range 5 {
		b = appendTime(b, time.Time{})
	}
	b = appendBytes(b, nil)
	b = appendBytes(b, []byte("x"))
	if m, err := decodeMessage(b, TopicNote, 1); err != nil || m.Strikes != 0 {
		t.Fatalf("decode = %+v, %v", m, err)
	}
	if _, err := decodeMessage([]byte{recordV3, 0}, TopicNote, 1); !errors.Is(err, errCorrupt) {
		t.Errorf("truncated 0x03 = %v, want errCorrupt", err)
	}
}

// TestPoisonLoneKeyRecoveryGivesUpNothing: the destination comes back between the head's
// failure and the out-of-order try of the urgent message behind it, so that try is the first
// to succeed after an outage. That is no proof the head is poison: the head is tried again
// at once, accepted, and nothing is given up (the urgent one went first: one place out of
// order, as documented).
func TestPoisonLoneKeyRecoveryGivesUpNothing(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	enqueue(t, s, TopicNote, "p", "p1")
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var headFailures atomic.Int32
	var down atomic.Bool
	down.Store(true)
	h := func(_ context.Context, m Message) error {
		if down.Load() {
			if string(m.Payload) == "p1" && headFailures.Add(1) == 5 {
				down.Store(false) // back right after the head's 5th failure: the next call is the try behind it
			}
			return delivery.Transient(errors.New("503 down"))
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(m.Payload))
		return nil
	}
	deliverBg(t, s, TopicNote, h)
	waitFor(t, "both delivered once the destination is back", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	if ds := deadLetters(t, s, TopicNote); len(ds) != 0 {
		t.Fatalf("the head was given up when the destination came back after an outage: %+v", ds)
	}
}
