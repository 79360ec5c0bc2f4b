package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// picky is a destination that accepts every message except those refuse picks, which it
// answers with a transient error. Each refusal first waits (bounded) until the destination
// has accepted one message of another key that was enqueued during this attempt and its ack
// is committed: so "the destination accepted another message since the head's previous
// failure (for the first failure: since this attempt started)" holds at every refusal — each
// is a strike — by construction and not by timing.
type picky struct {
	t      *testing.T
	s      *Store
	refuse func(Message) bool

	acked    atomic.Int32 // successes whose ack is committed
	refusals atomic.Int32
	feed     atomic.Int32

	mu  sync.Mutex
	got map[string][]string // accepted payloads per key, in order
}

// newPicky must be called before Deliver starts (it sets the store's ack hook).
func newPicky(t *testing.T, s *Store, refuse func(Message) bool) *picky {
	t.Helper()
	p := &picky{t: t, s: s, refuse: refuse, got: map[string][]string{}}
	s.afterAck = func(Message) { p.acked.Add(1) }
	return p
}

func (p *picky) handle(ctx context.Context, m Message) error {
	if !p.refuse(m) {
		p.mu.Lock()
		p.got[m.Key] = append(p.got[m.Key], string(m.Payload))
		p.mu.Unlock()
		return nil
	}
	p.refusals.Add(1)
	before := p.acked.Load()
	key := fmt.Sprintf("other-%d", p.feed.Add(1))
	if _, err := p.s.Enqueue(ctx, m.Topic, key, []byte("o")); err != nil && ctx.Err() == nil {
		p.t.Errorf("enqueue %s: %v", key, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.acked.Load() == before && ctx.Err() == nil {
		if time.Now().After(deadline) {
			p.t.Errorf("message %s was not accepted within 10s while %s/%d was being refused", key, m.Key, m.Seq)
			break
		}
		time.Sleep(time.Millisecond)
	}
	return delivery.Transient(errors.New("503 service unavailable (refused)"))
}

func (p *picky) accepted(key string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got[key])
}

const givenUpPrefix = "given up after "

// TestPoisonHeadGivenUpWhileOthersAreAccepted: the destination refuses one message (the
// head of key "p") with a transient error and accepts every other one. After MaxAttempts
// (default 8) attempts the head goes to the dead letters with the poison reason, and the
// messages behind it are delivered, in order.
func TestPoisonHeadGivenUpWhileOthersAreAccepted(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4})
	for _, v := range []string{"p1", "p2", "p3"} {
		enqueue(t, s, TopicNote, "p", v)
	}
	p := newPicky(t, s, func(m Message) bool { return string(m.Payload) == "p1" })
	deliverBg(t, s, TopicNote, p.handle)
	waitFor(t, "the refused head p1 given up and p2, p3 delivered", func() bool { return len(p.accepted("p")) == 2 })

	if got := p.accepted("p"); !slices.Equal(got, []string{"p2", "p3"}) {
		t.Errorf("key p delivered %v, want [p2 p3]", got)
	}
	ds := deadLetters(t, s, TopicNote)
	if len(ds) != 1 || string(ds[0].Payload) != "p1" {
		t.Fatalf("dead letters = %+v, want p1 only", ds)
	}
	d := ds[0]
	want := fmt.Sprintf("given up after 8 attempts while the destination accepted other messages: %s", "503 service unavailable (refused)")
	if d.Attempts != 8 || d.Reason != want {
		t.Errorf("dead letter attempts %d reason %q; want 8, %q", d.Attempts, d.Reason, want)
	}
	if n := p.refusals.Load(); n != 8 {
		t.Errorf("p1 was attempted %d times, want 8", n)
	}
}

// TestOutageGivesUpNothing: when nothing is accepted anywhere since the heads' first
// failures (a real outage, also right after a period of successes), no message is given up
// however many attempts it has had.
func TestOutageGivesUpNothing(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4})
	var down atomic.Bool
	var ok atomic.Int32
	acked := make(chan struct{}, 100)
	s.afterAck = func(Message) { acked <- struct{}{} }
	deliverBg(t, s, TopicNote, func(context.Context, Message) error {
		if down.Load() {
			return delivery.Transient(errors.New("503 down"))
		}
		ok.Add(1)
		return nil
	})
	// Successes first: they are before every failure below.
	for i := range 5 {
		enqueue(t, s, TopicNote, fmt.Sprintf("early-%d", i), "e")
	}
	for range 5 {
		select {
		case <-acked:
		case <-time.After(10 * time.Second):
			t.Fatal("the early messages were not delivered")
		}
	}
	down.Store(true)
	keys := []string{"a", "b", "c"}
	for _, k := range keys {
		enqueue(t, s, TopicNote, k, k+"1")
		enqueue(t, s, TopicNote, k, k+"2")
	}
	const many = 24 // 3 × the default MaxAttempts
	waitFor(t, fmt.Sprintf("every head failing %d times", many), func() bool {
		heads := 0
		for _, m := range pending(t, s, TopicNote) {
			if strings.HasSuffix(string(m.Payload), "1") && m.Attempts >= many {
				heads++
			}
		}
		return heads == len(keys)
	})
	if n := len(deadLetters(t, s, TopicNote)); n != 0 {
		t.Fatalf("%d messages given up during an outage: %+v", n, deadLetters(t, s, TopicNote))
	}
	if st := stats(t, s); st.Pending[TopicNote] != 2*len(keys) {
		t.Fatalf("pending %d, want %d", st.Pending[TopicNote], 2*len(keys))
	}
}

// TestOneFailingKeyDoesNotOpenTheBreaker: one key's head failing again and again is not
// the destination being down: other keys keep the full concurrency meanwhile.
func TestOneFailingKeyDoesNotOpenTheBreaker(t *testing.T) {
	const concurrency = 4
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: concurrency})
	enqueue(t, s, TopicNote, "p", "poison")
	gate := make(chan struct{})
	var running, done, poisonCalls atomic.Int32
	deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		if m.Key == "p" {
			poisonCalls.Add(1)
			return delivery.Transient(errors.New("503 refused"))
		}
		running.Add(1)
		defer running.Add(-1)
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		done.Add(1)
		return nil
	})
	waitFor(t, "3 failures of the poison head", func() bool { return poisonCalls.Load() >= 3 })
	if st := stats(t, s); !st.Backoff[TopicNote].IsZero() {
		t.Errorf("breaker open after one key's failures (next probe %v)", st.Backoff[TopicNote])
	}
	for i := range concurrency - 1 {
		enqueue(t, s, TopicNote, fmt.Sprintf("k%d", i), "x")
	}
	before := poisonCalls.Load()
	waitFor(t, fmt.Sprintf("%d other keys in flight at once beside the failing key", concurrency-1), func() bool {
		return running.Load() == concurrency-1
	})
	waitFor(t, "the poison head attempted again meanwhile", func() bool { return poisonCalls.Load() > before })
	close(gate)
	waitFor(t, "the other keys delivered", func() bool { return done.Load() == concurrency-1 })
	if st := stats(t, s); !st.Backoff[TopicNote].IsZero() {
		t.Errorf("breaker open after one key's failures (next probe %v)", st.Backoff[TopicNote])
	}
}

// TestPoisonRuleAfterRestart: strikes, not attempts, give a head up, and they are on disk.
// A head that failed many times in an outage (no strike) is not given up after a restart
// at its first failure once something succeeds: it needs MaxAttempts strikes, each a
// failure with another message accepted since its previous one.
func TestPoisonRuleAfterRestart(t *testing.T) {
	path := dbPath(t)
	o := Options{Logger: testLogger(t), RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4}
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "p", "p1")
	enqueue(t, s, TopicNote, "p", "p2")
	refuse := func(m Message) bool { return string(m.Payload) == "p1" }
	stop := deliverBg(t, s, TopicNote, func(context.Context, Message) error { return delivery.Transient(errors.New("503")) })
	headAttempts := func(s *Store) int {
		for _, m := range pending(t, s, TopicNote) {
			if string(m.Payload) == "p1" {
				return m.Attempts
			}
		}
		return -1
	}
	waitFor(t, "p1 failing 9 times", func() bool { return headAttempts(s) >= 9 })
	stop()
	if n := len(deadLetters(t, s, TopicNote)); n != 0 {
		t.Fatalf("%d given up with nothing accepted", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, path, o)
	was := headAttempts(s)
	p := newPicky(t, s, refuse)
	// The first attempt after the restart is refused with nothing accepted since: no
	// strike. Before each later refusal another message is accepted: one strike each.
	var calls atomic.Int32
	deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		if refuse(m) && calls.Add(1) == 1 {
			return delivery.Transient(errors.New("503"))
		}
		return p.handle(ctx, m)
	})
	waitFor(t, "p1 given up after the restart, once others were accepted again", func() bool {
		return len(p.accepted("p")) == 1
	})
	ds := deadLetters(t, s, TopicNote)
	want := was + 1 + 8
	if len(ds) != 1 || string(ds[0].Payload) != "p1" || ds[0].Attempts != want || ds[0].Strikes != 8 || !strings.HasPrefix(ds[0].Reason, fmt.Sprintf("given up after %d attempts", want)) {
		t.Fatalf("dead letters = %+v; want p1 given up after %d attempts, 8 strikes (none in the outage, none at its first failure after the restart)", ds, want)
	}
}

// TestUrgentBehindFailingHead: with an urgent message behind it, a head that keeps failing
// while others are accepted is given up after UrgentAttempts (default 3) attempts instead
// of MaxAttempts; a non-urgent message behind it does not shorten the wait (see
// TestPoisonHeadGivenUpWhileOthersAreAccepted: 8 attempts).
func TestUrgentBehindFailingHead(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond, Concurrency: 4})
	enqueue(t, s, TopicNote, "p", "p1")
	if ok, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2 urgent")); err != nil || !ok {
		t.Fatalf("EnqueueUrgent = %v, %v", ok, err)
	}
	enqueue(t, s, TopicNote, "p", "p3")
	p := newPicky(t, s, func(m Message) bool { return string(m.Payload) == "p1" })
	deliverBg(t, s, TopicNote, p.handle)
	waitFor(t, "p1 given up and p2, p3 delivered", func() bool { return len(p.accepted("p")) == 2 })
	if got := p.accepted("p"); !slices.Equal(got, []string{"p2 urgent", "p3"}) {
		t.Errorf("key p delivered %v", got)
	}
	ds := deadLetters(t, s, TopicNote)
	if len(ds) != 1 || ds[0].Attempts != 3 || !strings.HasPrefix(ds[0].Reason, "given up after 3 attempts while the destination accepted other messages: ") {
		t.Fatalf("dead letters = %+v; want p1 given up after 3 attempts", ds)
	}
	if st := stats(t, s); st.GivenUp[TopicNote] != 1 {
		t.Errorf("Stats.GivenUp = %v, want 1 for note", st.GivenUp)
	}
}

// TestUrgentArrivingDuringBackoff: the head has failed 3 times (others accepted meanwhile)
// and waits an hour for its next attempt when an urgent message is queued behind it: the
// head is given up at once, not after the hour.
func TestUrgentArrivingDuringBackoff(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: time.Hour, Concurrency: 4})
	enqueue(t, s, TopicNote, "p", "p1")
	p := newPicky(t, s, func(m Message) bool { return string(m.Payload) == "p1" })
	deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		err := p.handle(ctx, m)
		if err != nil && m.Attempts >= 2 {
			return delivery.RetryAfter(err, time.Hour)
		}
		return err
	})
	waitFor(t, "p1 failing 3 times", func() bool {
		ms := pending(t, s, TopicNote)
		return len(ms) == 1 && ms[0].Attempts == 3
	})
	if n := len(deadLetters(t, s, TopicNote)); n != 0 {
		t.Fatalf("%d dead letters before the urgent message", n)
	}
	if ok, err := s.EnqueueUrgent(context.Background(), TopicNote, "p", []byte("p2 urgent")); err != nil || !ok {
		t.Fatalf("EnqueueUrgent = %v, %v", ok, err)
	}
	waitFor(t, "p1 given up and the urgent p2 delivered", func() bool { return len(p.accepted("p")) == 1 })
	if ds := deadLetters(t, s, TopicNote); len(ds) != 1 || ds[0].Attempts != 3 || !strings.HasPrefix(ds[0].Reason, "given up after 3 attempts") {
		t.Fatalf("dead letters = %+v", ds)
	}
	if n := p.refusals.Load(); n != 3 {
		t.Errorf("p1 attempted %d times, want 3 (given up without another attempt)", n)
	}
}

// TestUrgentFlagSurvivesRetryDeadLetterAndReplay: the flag is in the record, kept by the
// bookkeeping rewrites and by Replay; messages without it are written as before (0x01).
func TestUrgentFlagSurvivesRetryDeadLetterAndReplay(t *testing.T) {
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond})
	if _, err := s.EnqueueUrgent(context.Background(), TopicNote, "k", []byte("u")); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "k", "plain")
	var calls atomic.Int32
	seen := make(chan Message, 10)
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		seen <- m
		if string(m.Payload) == "u" && calls.Add(1) == 1 {
			return delivery.Transient(errors.New("503"))
		}
		if string(m.Payload) == "u" && m.ReplayedAt.IsZero() {
			return delivery.Permanent(errors.New("400"))
		}
		return nil
	})
	waitFor(t, "u dead-lettered", func() bool { return len(deadLetters(t, s, TopicNote)) == 1 })
	d := deadLetters(t, s, TopicNote)[0]
	if !d.Urgent || d.Attempts != 2 {
		t.Fatalf("dead letter %+v: want urgent, 2 attempts", d)
	}
	if err := s.Replay(TopicNote, d.Seq); err != nil {
		t.Fatal(err)
	}
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case m := <-seen:
			got = append(got, fmt.Sprintf("%s urgent=%v", m.Payload, m.Urgent))
		case <-timeout:
			t.Fatalf("handler saw only %v", got)
		}
	}
	want := []string{"u urgent=true", "u urgent=true", "plain urgent=false", "u urgent=true"}
	if !slices.Equal(got, want) {
		t.Errorf("handler saw %v, want %v", got, want)
	}
}

func TestCodecFlags(t *testing.T) {
	at := time.Unix(1700000000, 0)
	plain := Message{Key: "k", Payload: []byte("x"), CreatedAt: at}
	if b := encodeMessage(&plain); b[0] != recordV1 {
		t.Fatalf("a message without flags starts with %#x, want %#x (readable by older versions)", b[0], recordV1)
	}
	urgent := plain
	urgent.Urgent = true
	b := encodeMessage(&urgent)
	if b[0] != recordV2 {
		t.Fatalf("an urgent message starts with %#x, want %#x", b[0], recordV2)
	}
	m, err := decodeMessage(b, TopicNote, 1)
	if err != nil || !m.Urgent || m.Key != "k" || string(m.Payload) != "x" || !m.CreatedAt.Equal(at) {
		t.Fatalf("decode = %+v, %v", m, err)
	}
	h, err := decodeHeader(b)
	if err != nil || !h.urgent || string(h.key) != "k" || h.payloadLen != 1 {
		t.Fatalf("header = %+v, %v", h, err)
	}
	if h, err := decodeHeader(encodeMessage(&plain)); err != nil || h.urgent {
		t.Fatalf("plain header = %+v, %v", h, err)
	}
	d := DeadLetter{Message: urgent, Reason: "r", DeadAt: at}
	gd, err := decodeDead(encodeDead(&d), TopicNote, 1)
	if err != nil || !gd.Urgent || gd.Reason != "r" {
		t.Fatalf("dead = %+v, %v", gd, err)
	}
	for _, bad := range [][]byte{{recordV2}, {recordV2, 1}, {3, 0}} {
		if _, err := decodeMessage(bad, TopicNote, 1); !errors.Is(err, errCorrupt) {
			t.Errorf("decode(%v) = %v, want errCorrupt", bad, err)
		}
	}
}

// TestProbePrefersKeysThatHaveNotFailed: while the breaker is open, the probe goes to a
// ready key whose head has no failed attempt, round-robin, before a key that keeps failing.
func TestProbePrefersKeysThatHaveNotFailed(t *testing.T) {
	now := time.Now()
	ti := newTopicIndex(TopicNote)
	ti.addCount("poison", 1, time.Time{}, now)
	ti.addCount("fresh1", 1, time.Time{}, now)
	ti.addCount("fresh2", 1, time.Time{}, now)
	ti.keys["poison"].failures = 7
	ti.brOpen = true
	var got []string
	for range 3 {
		ks, probe, _ := ti.next(now, now)
		if ks == nil || !probe {
			t.Fatalf("next = %v, probe %v", ks, probe)
		}
		got = append(got, ks.key)
		ti.brProbe = false
		ti.release(ks.key, time.Time{}, now, map[bool]int{true: 8, false: 1}[ks.key == "poison"])
		if ks.key != "poison" {
			ti.keys[ks.key].failures = 0 // say it succeeded: a new head
		}
	}
	if want := []string{"fresh1", "fresh2", "fresh1"}; !slices.Equal(got, want) {
		t.Errorf("probes went to %v, want %v", got, want)
	}
	// Only the failing key is ready: it gets the probe.
	ti = newTopicIndex(TopicNote)
	ti.addCount("poison", 1, time.Time{}, now)
	ti.keys["poison"].failures = 7
	ti.brOpen = true
	if ks, probe, _ := ti.next(now, now); ks == nil || ks.key != "poison" || !probe {
		t.Errorf("lone failing key not probed: %v", ks)
	}
}

// TestBreakerOpensOnFailuresOfTwoKeys: the breaker's rule at the index level.
func TestBreakerOpensOnFailuresOfTwoKeys(t *testing.T) {
	now := time.Now()
	delay := func(int) time.Duration { return time.Second }
	ti := newTopicIndex(TopicNote)
	for range 5 {
		ti.record(false, "a", brDown, now, delay)
	}
	if ti.brOpen {
		t.Fatal("open after one key's failures")
	}
	ti.record(false, "b", brAccepted, now, delay)
	ti.record(false, "c", brDown, now, delay)
	if ti.brOpen {
		t.Fatal("open: a's failures were before a success")
	}
	ti.record(false, "a", brDown, now, delay)
	if !ti.brOpen {
		t.Fatal("closed after failures of two keys with no answer in between")
	}
	if closed := ti.record(true, "d", brReached, now, delay); !closed || ti.brOpen {
		t.Fatal("an answer did not close it")
	}
}
