package outbox

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeadLetter is a message that will not be retried: a permanent error, or expired (MaxAge).
// It keeps its Topic, Seq (its id within the topic), Key, Payload and the bookkeeping of
// its last attempt: Attempts, CreatedAt, FirstErrorAt/LastErrorAt, LastError, and when it
// died (DeadAt) and why (Reason).
type DeadLetter struct {
	Message
	// Reason is the handler's error text (err.Error()): safe to show and log.
	Reason string
	// Evidence is what the destination answered, when the handler's error carries it (an
	// error with a method Evidence() string, found with errors.As): the operator's proof of
	// why it was refused. It may contain caller data (a CAD echoing the note): show it only
	// on request, never log it. Empty for dead letters written before it existed.
	Evidence string
	DeadAt   time.Time
}

// maxEvidence bounds the evidence stored with a dead letter.
const maxEvidence = 4096

// evidenceOf returns the Evidence() of err or of an error it wraps ("" if none), bounded.
func evidenceOf(err error) string {
	var ev interface{ Evidence() string }
	if err == nil || !errors.As(err, &ev) {
		return ""
	}
	return truncate(ev.Evidence(), maxEvidence)
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
	return s.ListDeadLetters(topic, 0, 0)
}

// ListDeadLetters lists up to limit (0 = all) dead letters of topic whose Seq is greater
// than after, in seq order: a page of the list (pass the last Seq of a page as the next
// after). It reads only the entries it returns.
func (s *Store) ListDeadLetters(topic Topic, after uint64, limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(deadBucket(topic))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek(u64key(after + 1))
		if after == ^uint64(0) {
			k = nil
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("bad key %x: %w", k, errCorrupt)
			}
			d, err := decodeDead(v, topic, seqOf(k))
			if err != nil {
				return fmt.Errorf("seq %d: %w", seqOf(k), err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters of %s: %w", topic, err)
	}
	return out, nil
}

// DeadLetter returns one dead letter of topic; ErrNotFound if there is none with that Seq.
func (s *Store) DeadLetter(topic Topic, seq uint64) (DeadLetter, error) {
	var d DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(deadBucket(topic))
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(u64key(seq))
		if v == nil {
			return ErrNotFound
		}
		var err error
		d, err = decodeDead(v, topic, seq)
		return err
	})
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead letter %s seq %d: %w", topic, seq, err)
	}
	return d, nil
}

// ReplayAll replays every dead letter of topic (as Replay does, in seq order, so the
// replayed messages of one key keep their order) and returns how many were put back. Dead
// letters added while it runs may or may not be included.
func (s *Store) ReplayAll(topic Topic) (int, error) {
	if err := validTopic(topic); err != nil {
		return 0, err
	}
	var seqs []uint64
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(deadBucket(topic))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("bad key %x: %w", k, errCorrupt)
			}
			seqs = append(seqs, seqOf(k))
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: replay all of %s: %w", topic, err)
	}
	n := 0
	var first error // the first failure of a request (ErrNotFound: dropped meanwhile, fine)
	for len(seqs) > 0 {
		chunk := seqs[:min(len(seqs), 1024)]
		seqs = seqs[len(chunk):]
		rs := make([]*writeReq, len(chunk))
		for i, seq := range chunk {
			rs[i] = getReq()
			rs[i].kind, rs[i].topic, rs[i].seq = opReplay, topic, seq
		}
		err := s.submitAll(rs)
		for _, r := range rs {
			switch {
			case err != nil: // none was handed over
			case r.err == nil:
				n++
			case !errors.Is(r.err, ErrNotFound) && first == nil:
				first = fmt.Errorf("outbox: replay %s seq %d: %w", topic, r.seq, r.err)
			}
			putReq(r)
		}
		if err != nil {
			return n, err
		}
		if first != nil {
			return n, first
		}
	}
	if n > 0 {
		s.log.Info("outbox dead letters replayed", "topic", string(topic), "count", n)
	}
	return n, nil
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
