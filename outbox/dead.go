package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeadLetter is a message that will not be retried: a permanent error, or expired (MaxAge).
// It keeps its Seq and the bookkeeping of its last attempt: Reason, Attempts,
// FirstErrorAt/LastErrorAt, LastError, and when it died (DeadAt).
type DeadLetter struct {
	Message
	Reason string
	DeadAt time.Time
}

// DeadLetterCount returns the number of dead letters of topic (a counter kept in memory
// and persisted with every change: O(1)).
func (s *Store) DeadLetterCount(topic Topic) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if ti := s.topics[topic]; ti != nil {
		return ti.dead, nil
	}
	return 0, nil
}

// DeadLetters lists the dead letters of topic in seq order.
func (s *Store) DeadLetters(topic Topic) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(deadBucket(topic))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("bad key %x: %w", k, errCorrupt)
			}
			d, err := decodeDead(v, topic, seqOf(k))
			if err != nil {
				return fmt.Errorf("seq %d: %w", seqOf(k), err)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters of %s: %w", topic, err)
	}
	return out, nil
}

// Replay puts a dead letter back into the queue and wakes the deliverer. The message gets a
// NEW Seq and goes to the END of its key's FIFO (behind messages enqueued meanwhile); its
// Attempts and error fields are reset, CreatedAt is kept and ReplayedAt is set (MaxAge counts
// from ReplayedAt). Replay is not limited by MaxBytes. ErrNotFound if there is no such dead
// letter.
func (s *Store) Replay(topic Topic, seq uint64) error {
	return s.deadOp(opReplay, topic, seq)
}

// Drop deletes a dead letter for good. ErrNotFound if there is no such dead letter.
func (s *Store) Drop(topic Topic, seq uint64) error {
	return s.deadOp(opDrop, topic, seq)
}

func (s *Store) deadOp(kind opKind, topic Topic, seq uint64) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	r := getReq()
	defer putReq(r)
	r.kind, r.topic, r.seq = kind, topic, seq
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return err
	}
	if r.err != nil {
		return fmt.Errorf("outbox: %s %s seq %d: %w", kind, topic, seq, r.err)
	}
	s.log.Info("outbox dead letter "+kind.String(), "topic", string(topic), "seq", seq)
	return nil
}
