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
}

// maxDedupKeyLen bounds an idempotency key (bbolt keys are at most 32 KiB).
const maxDedupKeyLen = 4096

// Enqueue stores the message durably (committed and fsynced) before returning.
//
// If any of dedupKeys has been recorded before (within DedupRetention), nothing is written
// and it returns (false, nil). Otherwise all dedupKeys are recorded in the same transaction
// and it returns (true, nil). Empty dedup keys are ignored (never "seen").
//
// It returns ErrFull (nothing written) once the pending payload bytes have reached
// Options.MaxBytes; a duplicate is reported as (false, nil) even then. ctx cancels the wait
// for the writer: if ctx ends before the request was handed to the writer, nothing is written
// and ctx's error is returned; once handed off, Enqueue waits for the commit (milliseconds)
// so its answer is always exact.
//
// Messages of one key are delivered in the order their Enqueue calls committed.
func (s *Store) Enqueue(ctx context.Context, topic Topic, key string, payload []byte, dedupKeys ...string) (bool, error) {
	if err := validTopic(topic); err != nil {
		return false, err
	}
	if int64(len(payload)) > bolt.MaxValueSize-1024-int64(len(key)) {
		return false, fmt.Errorf("outbox: enqueue %s/%s: payload of %d bytes is too large", topic, key, len(payload))
	}
	var dk []string
	for _, k := range dedupKeys {
		if len(k) > maxDedupKeyLen {
			return false, fmt.Errorf("outbox: enqueue %s/%s: idempotency key longer than %d bytes", topic, key, maxDedupKeyLen)
		}
		if k != "" {
			dk = append(dk, k)
		}
	}
	if s.isClosed() {
		return false, ErrClosed
	}
	r := &writeReq{kind: opEnqueue, topic: topic, key: key, payload: payload, dedup: dk}
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	if r.err != nil {
		return false, r.err
	}
	return r.added, nil
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

// recordDedup stores dedupKey → now and keeps the time index in step.
func recordDedup(tx *bolt.Tx, dedupKey string, now time.Time) error {
	d, dt := tx.Bucket(bktDedup), tx.Bucket(bktDedupTime)
	k := []byte(dedupKey)
	if old := d.Get(k); len(old) == 8 {
		if err := dt.Delete(append(append([]byte{}, old...), k...)); err != nil {
			return err
		}
	}
	t := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	if err := d.Put(k, t); err != nil {
		return err
	}
	return dt.Put(append(t, k...), nil)
}

// Stats is a snapshot of the queue sizes.
type Stats struct {
	Pending      map[Topic]int
	Dead         map[Topic]int
	PendingBytes int64 // sum of payload sizes of pending messages (what MaxBytes limits)
}

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
		PendingBytes: s.pendingBytes,
	}
	for t, ti := range s.topics {
		st.Pending[t] = ti.pending
	}
	for t, n := range s.dead {
		st.Dead[t] = n
	}
	return st, nil
}

// submit hands r to the writer and waits for its commit. Only the hand-off can be cancelled
// by ctx: after it, the result is always awaited.
func (s *Store) submit(ctx context.Context, r *writeReq) error {
	if ctx == nil {
		ctx = context.Background()
	}
	r.done = make(chan struct{})
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("outbox: %s %s: not written: %w", r.kind, r.topic, ctx.Err())
	case <-s.writerDone:
		return ErrClosed
	}
	<-r.done
	return nil
}

// submitInternal is submit for the outbox's own bookkeeping (acks, retries, dead letters):
// never cancelled, so a handler's success is recorded even while Deliver stops.
func (s *Store) submitInternal(r *writeReq) error {
	if err := s.submit(context.Background(), r); err != nil {
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
