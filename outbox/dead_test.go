package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// answerError is a handler error carrying the destination's answer, as the REST sink's
// and the Assist client's errors do: Error() is safe, Evidence() has the body.
type answerError struct{ status int }

func (e *answerError) Error() string {
	return fmt.Sprintf("POST /incidents/x/notes: %d (37 bytes)", e.status)
}
func (e *answerError) Evidence() string { return `{"error":"bad note: caller said hello"}` }

// deadN dead-letters n messages of key (payloads p0..pn-1) and stops delivery.
func deadN(t *testing.T, s *Store, topic Topic, key string, n int, err error) []DeadLetter {
	t.Helper()
	for i := range n {
		enqueue(t, s, topic, key, fmt.Sprintf("p%d", i))
	}
	stop := deliverBg(t, s, topic, func(context.Context, Message) error { return err })
	waitFor(t, "dead letters", func() bool { return stats(t, s).Dead[topic] == n })
	stop()
	return deadLetters(t, s, topic)
}

// A permanent error with Evidence keeps the safe text as Reason and the answer as Evidence.
func TestDeadLetterKeepsEvidenceApart(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	err := delivery.Permanent(fmt.Errorf("write note of incident x: %w", &answerError{400}))
	dl := deadN(t, s, TopicNote, "x", 1, err)
	d := dl[0]
	if d.Reason != err.Error() || strings.Contains(d.Reason, "caller said") {
		t.Fatalf("Reason = %q, want the error text without the answer", d.Reason)
	}
	if d.Evidence != (&answerError{}).Evidence() {
		t.Fatalf("Evidence = %q", d.Evidence)
	}
	if d.Topic != TopicNote || d.Key != "x" || d.Attempts != 1 || d.CreatedAt.IsZero() ||
		d.FirstErrorAt.IsZero() || d.LastErrorAt.IsZero() || d.DeadAt.IsZero() || string(d.Payload) != "p0" {
		t.Fatalf("dead letter = %+v", d)
	}
	// An error without Evidence leaves it empty.
	dl = deadN(t, s, TopicLink, "y", 1, delivery.Permanentf("plain"))
	if dl[0].Evidence != "" || dl[0].Reason != "plain" {
		t.Fatalf("plain error: %+v", dl[0])
	}
}

// Dead-letter records written before Evidence existed (version 1) still decode, list,
// replay and drop.
func TestDeadLetterV1RecordStillReadable(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	at := time.Unix(1700000000, 0)
	m := Message{Key: "old", Payload: []byte("old note"), Attempts: 2, CreatedAt: at, LastError: "400"}
	v1 := []byte{recordV1}
	v1 = appendTime(v1, at)
	v1 = appendBytes(v1, []byte("cad said 400"))
	v1 = append(v1, encodeMessage(&m)...)
	for _, seq := range []uint64{101, 102} {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(deadBucket(TopicNote)).Put(u64key(seq), v1); err != nil {
				return err
			}
			c, _ := getCounters(tx, TopicNote)
			c.dead++
			return putCounters(tx, TopicNote, c)
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close() // reopen: the in-memory counters are read at Open
	s = openT(t, path, Options{})
	d, err := s.DeadLetter(TopicNote, 101)
	if err != nil || d.Reason != "cad said 400" || d.Evidence != "" || d.Key != "old" || d.Attempts != 2 ||
		string(d.Payload) != "old note" || !d.DeadAt.Equal(at) {
		t.Fatalf("v1 record = %+v, %v", d, err)
	}
	if err := s.Replay(TopicNote, 101); err != nil {
		t.Fatalf("replay v1: %v", err)
	}
	if err := s.Drop(TopicNote, 102); err != nil {
		t.Fatalf("drop v1: %v", err)
	}
	if st := stats(t, s); st.Dead[TopicNote] != 0 || st.Pending[TopicNote] != 1 {
		t.Fatalf("after replay and drop: %+v", st)
	}
	// And the version 2 encoding round-trips.
	d2 := DeadLetter{Message: m, Reason: "r", Evidence: "e", DeadAt: at}
	got, err := decodeDead(encodeDead(&d2), TopicNote, 3)
	if err != nil || got.Evidence != "e" || got.Reason != "r" || got.Seq != 3 || string(got.Payload) != "old note" {
		t.Fatalf("v2 round trip = %+v, %v", got, err)
	}
}

func TestListDeadLettersPages(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	all := deadN(t, s, TopicNote, "k", 5, delivery.Permanentf("no"))
	tests := []struct {
		after uint64
		limit int
		want  []int // indexes into all
	}{
		{0, 0, []int{0, 1, 2, 3, 4}},
		{0, 2, []int{0, 1}},
		{all[1].Seq, 2, []int{2, 3}},
		{all[3].Seq, 10, []int{4}},
		{all[4].Seq, 10, nil},
		{^uint64(0), 10, nil},
	}
	for _, tt := range tests {
		got, err := s.ListDeadLetters(TopicNote, tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("after %d limit %d: %d entries, want %d", tt.after, tt.limit, len(got), len(tt.want))
		}
		for i, w := range tt.want {
			if got[i].Seq != all[w].Seq {
				t.Fatalf("after %d limit %d: entry %d is seq %d, want %d", tt.after, tt.limit, i, got[i].Seq, all[w].Seq)
			}
		}
	}
	if _, err := s.DeadLetter(TopicNote, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeadLetter(999) = %v, want ErrNotFound", err)
	}
	if _, err := s.DeadLetter("nosuchtopic", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeadLetter of an unknown topic = %v, want ErrNotFound", err)
	}
}

// ReplayAll puts every dead letter of the topic back, in order, and touches no other topic.
func TestReplayAll(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	deadN(t, s, TopicNote, "k", 3, delivery.Permanentf("no"))
	deadN(t, s, TopicLink, "l", 1, delivery.Permanentf("no"))
	n, err := s.ReplayAll(TopicNote)
	if err != nil || n != 3 {
		t.Fatalf("ReplayAll = %d, %v", n, err)
	}
	st := stats(t, s)
	if st.Dead[TopicNote] != 0 || st.Pending[TopicNote] != 3 || st.Dead[TopicLink] != 1 {
		t.Fatalf("after ReplayAll: %+v", st)
	}
	var got []string
	for _, m := range pending(t, s, TopicNote) {
		got = append(got, string(m.Payload))
	}
	if strings.Join(got, ",") != "p0,p1,p2" {
		t.Fatalf("replayed order %v", got)
	}
	if n, err := s.ReplayAll(TopicNote); err != nil || n != 0 {
		t.Fatalf("second ReplayAll = %d, %v", n, err)
	}
}

func TestOldestPending(t *testing.T) {
	c := newClock()
	s := openT(t, dbPath(t), Options{Now: c.Now})
	if _, ok, err := s.OldestPending(TopicNote); ok || err != nil {
		t.Fatalf("empty: ok=%v err=%v", ok, err)
	}
	first := c.Now()
	enqueue(t, s, TopicNote, "a", "1")
	c.Add(time.Minute)
	enqueue(t, s, TopicNote, "b", "2")
	since, ok, err := s.OldestPending(TopicNote)
	if err != nil || !ok || !since.Equal(first) {
		t.Fatalf("OldestPending = %v, %v, %v; want %v", since, ok, err, first)
	}
	if _, ok, _ := s.OldestPending(TopicLink); ok {
		t.Fatal("link topic has nothing pending")
	}
}
