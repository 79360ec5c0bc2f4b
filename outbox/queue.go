package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Message is one queued item.
type Message struct {
	Seq          uint64 // unique per topic, ascending in enqueue order
	Topic        Topic
	Key          string // FIFO key (incident id)
	Payload      []byte
	Attempts     int // failed delivery attempts so far
	CreatedAt    time.Time
	NextAttempt  time.Time // zero = now
	FirstErrorAt time.Time
	LastErrorAt  time.Time
	LastError    string
	// ReplayedAt is when the message was last put back from the dead letters (zero if
	// never). MaxAge counts from the later of CreatedAt and ReplayedAt.
	ReplayedAt time.Time
	// Urgent was set by EnqueueUrgent: a head failing behind which it waits is given up
	// sooner (Options.UrgentAttempts). Kept through retries, dead letters and Replay.
	Urgent bool
	// Strikes counts the failed attempts that show the message, not the destination, is
	// the problem: a transient failure is a strike when another message was accepted (its
	// handler call started) after this message's previous failed attempt (for its first
	// failure: after this attempt started). The poison rule gives up on strikes, not on
	// Attempts (see Options.MaxAttempts). At most Attempts; 0 again after Replay.
	Strikes int
}

// maxDedupKeyLen bounds an idempotency key (bbolt keys are at most 32 KiB).
const maxDedupKeyLen = 4096

// Enqueue stores the message durably (committed and fsynced) before returning.
//
// If any of dedupKeys has been recorded before (within DedupRetention), nothing is written
// and it returns (false, nil). Otherwise all dedupKeys are recorded in the same transaction
// and it returns (true, nil). Empty dedup keys are ignored (never "seen").
//
// It returns ErrFull (nothing written) once the pending payload bytes (plus the bytes of
// unlinked state, see unlinked.go) have reached Options.MaxBytes; a duplicate is reported as (false, nil) even then. If ctx is already
// done, nothing is written and ctx's error is returned; once handed to the writer (at
// once: the hand-off never blocks), Enqueue waits for the commit (milliseconds) so its
// answer is always exact.
//
// Messages of one key are delivered in the order their Enqueue calls committed.
func (s *Store) Enqueue(ctx context.Context, topic Topic, key string, payload []byte, dedupKeys ...string) (bool, error) {
	added, _, err := s.enqueue(ctx, topic, key, payload, false, false, dedupKeys)
	return added, err
}

// EnqueueUrgent is Enqueue for a message that should not wait long behind a failing one:
// when the head of its key has Options.UrgentAttempts strikes (failures while the
// destination accepted other messages), that head is given up (dead letters) instead of
// waiting for Options.MaxAttempts; when it has failed UrgentAttempts times, the message
// directly behind the head is tried out of order (the proof the destination is up when
// nothing else is delivered), and its acceptance gives the head up. The order of the
// delivered messages of the key is kept. See poison.go.
func (s *Store) EnqueueUrgent(ctx context.Context, topic Topic, key string, payload []byte, dedupKeys ...string) (bool, error) {
	added, _, err := s.enqueue(ctx, topic, key, payload, false, true, dedupKeys)
	if added {
		s.urgentQueued(topic, key)
	}
	return added, err
}

// EnqueueLatest stores the message durably like Enqueue (no idempotency keys) and, in the
// same transaction, deletes the pending messages of the same topic and key that are not in
// flight: the latest state wins (used for "link" messages: a changed incident replaces its
// unsent older link). If a message of the key is with a handler, it is kept and the new
// one is delivered after it. It reports whether older messages were replaced. ErrFull as
// for Enqueue.
//
// Do not use it for messages that must all be delivered (notes).
func (s *Store) EnqueueLatest(ctx context.Context, topic Topic, key string, payload []byte) (replaced bool, err error) {
	_, n, err := s.enqueue(ctx, topic, key, payload, true, false, nil)
	return n > 0, err
}

func (s *Store) enqueue(ctx context.Context, topic Topic, key string, payload []byte, latest, urgent bool, dedupKeys []string) (bool, int, error) {
	if err := validTopic(topic); err != nil {
		return false, 0, err
	}
	if key == "" {
		return false, 0, fmt.Errorf("outbox: enqueue %s: empty key (the incident id)", topic)
	}
	if len(key) > maxKeyLen {
		return false, 0, fmt.Errorf("outbox: enqueue %s: key longer than %d bytes", topic, maxKeyLen)
	}
	if int64(len(payload)) > bolt.MaxValueSize-1024-int64(len(key)) {
		return false, 0, fmt.Errorf("outbox: enqueue %s/%s: payload of %d bytes is too large", topic, key, len(payload))
	}
	var dk []string
	for i, k := range dedupKeys {
		if len(k) > maxDedupKeyLen {
			return false, 0, fmt.Errorf("outbox: enqueue %s/%s: idempotency key longer than %d bytes", topic, key, maxDedupKeyLen)
		}
		if k == "" && dk == nil {
			dk = make([]string, 0, len(dedupKeys))
			dk = append(dk, dedupKeys[:i]...)
		} else if k != "" && dk != nil {
			dk = append(dk, k)
		}
	}
	if dk == nil {
		dk = dedupKeys
	}
	if ctx != nil && ctx.Err() != nil {
		return false, 0, fmt.Errorf("outbox: enqueue %s: not written: %w", topic, ctx.Err())
	}
	if s.fullWithUnlinked(dk) {
		return false, 0, ErrFull
	}
	r := getReq()
	defer putReq(r)
	r.kind, r.topic, r.key, r.latest, r.dedup, r.payLen = opEnqueue, topic, key, latest, dk, len(payload)
	m := Message{Key: key, Payload: payload, CreatedAt: s.opts.Now(), Urgent: urgent}
	r.rec = appendMessage(r.rec[:0], &m)
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return false, 0, err
	}
	if r.err != nil {
		return false, 0, r.err
	}
	return r.added, r.replaced, nil
}

// Seen reports whether an idempotency key is recorded (and not older than DedupRetention).
func (s *Store) Seen(dedupKey string) (bool, error) {
	var seen bool
	err := s.view(func(tx *bolt.Tx) error {
		seen = s.seenIn(tx, dedupKey, s.opts.Now())
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("outbox: seen: %w", err)
	}
	return seen, nil
}

func (s *Store) seenIn(tx *bolt.Tx, dedupKey string, now time.Time) bool {
	if dedupKey == "" {
		return false
	}
	v := tx.Bucket(bktDedup).Get([]byte(dedupKey))
	if len(v) != 8 {
		return false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	return now.Sub(at) < s.opts.DedupRetention
}

// dedupSeen reports whether an idempotency key is recorded and still within
// DedupRetention.
func (s *Store) dedupSeen(tx *bolt.Tx, dedupKey string, now time.Time, w *wbuf) bool {
	v := tx.Bucket(bktDedup).Get(append(w.take(len(dedupKey)), dedupKey...))
	if len(v) != 8 {
		return false
	}
	return now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) < s.opts.DedupRetention
}

// recordDedup stores dedupKey → now (replacing the time of an expired earlier record).
// There is no time index: the pruner walks the bucket (prune.go).
func recordDedup(tx *bolt.Tx, dedupKey string, now time.Time, w *wbuf) error {
	k := append(w.take(len(dedupKey)), dedupKey...)
	return tx.Bucket(bktDedup).Put(k, binary.BigEndian.AppendUint64(w.take(8), uint64(now.UnixNano())))
}

// Stats is a snapshot of the queue sizes and delivery state.
type Stats struct {
	Pending      map[Topic]int
	Dead         map[Topic]int
	PendingBytes int64 // sum of payload sizes of pending messages (what MaxBytes limits)
	// Keys: keys with pending messages, per topic (what the in-memory index holds).
	Keys map[Topic]int
	// Backoff: per topic, when the next probe of a destination considered down is due
	// (its circuit breaker is open: one message at a time; wall clock, even when Options.Now
	// is faked); zero when closed.
	Backoff map[Topic]time.Time
	// GivenUp: per topic, heads given up since Open because they kept failing while the
	// destination accepted other messages (Options.MaxAttempts, UrgentAttempts).
	GivenUp map[Topic]int
}

// Commits returns how many queue transactions (group commits, one fsync pair each) the
// writer has committed since Open: messages enqueued / Commits is the mean batch size.
func (s *Store) Commits() int64 { return s.commits.Load() }

// Stats returns the current counts (kept in memory, updated after each commit; O(topics)).
func (s *Store) Stats() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Stats{}, ErrClosed
	}
	st := Stats{
		Pending:      map[Topic]int{TopicLink: 0, TopicNote: 0},
		Dead:         map[Topic]int{TopicLink: 0, TopicNote: 0},
		Keys:         map[Topic]int{TopicLink: 0, TopicNote: 0},
		Backoff:      map[Topic]time.Time{TopicLink: {}, TopicNote: {}},
		GivenUp:      map[Topic]int{TopicLink: 0, TopicNote: 0},
		PendingBytes: s.pendingBytes,
	}
	for t, ti := range s.topics {
		st.Pending[t] = ti.pending
		st.Dead[t] = ti.dead
		st.Keys[t] = len(ti.keys)
		st.GivenUp[t] = ti.givenUp
		if ti.brOpen {
			st.Backoff[t] = ti.brNext
		} else {
			st.Backoff[t] = time.Time{}
		}
	}
	return st, nil
}

// submitInternal hands one request of the outbox's own bookkeeping (acks, retries, dead
// letters) to the writer: never cancelled, so a handler's success is recorded even while
// Deliver stops. ErrNotFound (already gone) is not an error.
func (s *Store) submitInternal(r *writeReq) error {
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return err
	}
	if errors.Is(r.err, ErrNotFound) {
		return nil // already gone: nothing left to do
	}
	return r.err
}

// Pending lists up to limit (0 = all) pending messages of topic in seq order, payloads
// included (for diagnostics, tests and the admin API; O(limit) reads).
func (s *Store) Pending(topic Topic, limit int) ([]Message, error) {
	var out []Message
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(topic))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			m, err := decodeMessage(v, topic, seqOf(k))
			if err != nil {
				return fmt.Errorf("seq %d: %w", seqOf(k), err)
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: pending of %s: %w", topic, err)
	}
	return out, nil
}
