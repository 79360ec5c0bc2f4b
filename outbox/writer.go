package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The writer goroutine owns every queue mutation (enqueue, ack, retry, dead letter, replay,
// drop). It takes one request, then everything else already waiting (up to maxBatch
// requests / maxBatchBytes of payload), applies them in order in ONE bbolt transaction and
// fsyncs once (group commit). There is no fixed delay: a lone request commits at once, and
// under load the batch grows with the number of waiting callers. Each caller is answered
// after the commit, with its own outcome.
//
// If the transaction fails, each request of the batch is retried in a transaction of its
// own, so one bad request cannot fail the others.

const (
	maxBatch      = 4096
	maxBatchBytes = 16 << 20
)

type opKind uint8

const (
	opEnqueue opKind = iota
	opAck
	opRetry
	opDead
	opReplay
	opDrop
)

func (k opKind) String() string {
	return [...]string{"enqueue", "ack", "retry", "dead-letter", "replay", "drop"}[k]
}

type writeReq struct {
	kind    opKind
	topic   Topic
	key     string
	payload []byte
	dedup   []string
	seq     uint64
	msg     Message // opRetry/opDead: the delivery bookkeeping fields to store
	reason  string  // opDead

	// outcome, set by the writer before done is closed
	added bool
	err   error // per-request outcome (ErrFull, ErrNotFound, commit error)
	done  chan struct{}

	// effects on the in-memory state, applied after the commit
	newSeq       uint64
	newKey       string
	bytesDelta   int64
	pendingDelta int
	deadDelta    int
}

func (r *writeReq) reset() {
	r.added, r.err = false, nil
	r.newSeq, r.newKey, r.bytesDelta, r.pendingDelta, r.deadDelta = 0, "", 0, 0, 0
}

func (s *Store) writer() {
	defer s.bg.Done()
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, 64)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.stopWriter:
			// Commit whatever was handed off; later senders see writerDone.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*writeReq{r})
					continue
				default:
				}
				return
			}
		}
		size := len(batch[0].payload)
	drain:
		for len(batch) < maxBatch && size < maxBatchBytes {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				size += len(r.payload)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*writeReq) {
	s.mu.Lock()
	pending := s.pendingBytes
	s.mu.Unlock()
	now := s.opts.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur := pending
		for _, r := range batch {
			r.reset()
			if err := s.apply(tx, r, now, &cur); err != nil {
				return fmt.Errorf("%s %s seq %d: %w", r.kind, r.topic, r.seq, err)
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		s.log.Warn("outbox batch commit failed; retrying its requests one by one", "requests", len(batch), "err", err)
		for _, r := range batch {
			s.commit([]*writeReq{r})
		}
		return
	}
	if err != nil {
		r := batch[0]
		r.reset()
		r.err = fmt.Errorf("outbox: commit: %w", err)
		s.log.Error("outbox commit failed", "op", r.kind.String(), "topic", string(r.topic), "key", r.key, "seq", r.seq, "err", err)
		close(r.done)
		return
	}
	var poke []*topicIndex
	s.mu.Lock()
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		s.pendingBytes += r.bytesDelta
		s.dead[r.topic] += r.deadDelta
		ti := s.topicLocked(r.topic)
		ti.pending += r.pendingDelta
		if r.newSeq != 0 {
			ti.add([]byte(r.newKey), r.newSeq, time.Time{}, now)
			poke = append(poke, ti)
		}
	}
	s.mu.Unlock()
	for _, ti := range poke {
		ti.poke()
	}
	for _, r := range batch {
		close(r.done)
	}
}

// apply performs one request inside the batch transaction. Outcomes that are the
// request's own business (duplicate, full, not found) are recorded in r and return nil; a
// returned error aborts the transaction. cur is the running pending-bytes total.
func (s *Store) apply(tx *bolt.Tx, r *writeReq, now time.Time, cur *int64) error {
	q := tx.Bucket(queueBucket(r.topic))
	if q == nil {
		if err := createTopicBuckets(tx, r.topic); err != nil {
			return err
		}
		q = tx.Bucket(queueBucket(r.topic))
	}
	dead := tx.Bucket(deadBucket(r.topic))
	switch r.kind {
	case opEnqueue:
		for _, k := range r.dedup {
			if s.seenIn(tx, k, now) {
				return nil // duplicate: added stays false
			}
		}
		if *cur >= s.opts.MaxBytes {
			r.err = ErrFull
			return nil
		}
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		m := Message{Key: r.key, Payload: r.payload, CreatedAt: now}
		if err := q.Put(u64key(seq), encodeMessage(&m)); err != nil {
			return err
		}
		for _, k := range r.dedup {
			if err := recordDedup(tx, k, now); err != nil {
				return err
			}
		}
		r.added, r.newSeq, r.newKey = true, seq, r.key
		r.bytesDelta, r.pendingDelta = int64(len(r.payload)), 1

	case opAck, opRetry, opDead:
		k := u64key(r.seq)
		v := q.Get(k)
		if v == nil {
			r.err = ErrNotFound
			return nil
		}
		if r.kind == opAck { // only the size is needed: no payload copy
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			if err := q.Delete(k); err != nil {
				return err
			}
			r.bytesDelta, r.pendingDelta = -int64(h.payloadLen), -1
			break
		}
		m, err := decodeMessage(v, r.topic, r.seq)
		if err != nil {
			return err
		}
		switch r.kind {
		case opRetry:
			copyBookkeeping(&m, &r.msg)
			if err := q.Put(k, encodeMessage(&m)); err != nil {
				return err
			}
		case opDead:
			copyBookkeeping(&m, &r.msg)
			d := DeadLetter{Message: m, Reason: r.reason, DeadAt: now}
			if err := dead.Put(k, encodeDead(&d)); err != nil {
				return err
			}
			if err := q.Delete(k); err != nil {
				return err
			}
			r.bytesDelta, r.pendingDelta, r.deadDelta = -int64(len(m.Payload)), -1, 1
		}

	case opReplay, opDrop:
		k := u64key(r.seq)
		v := dead.Get(k)
		if v == nil {
			r.err = ErrNotFound
			return nil
		}
		if r.kind == opReplay {
			d, err := decodeDead(v, r.topic, r.seq)
			if err != nil {
				return err
			}
			m := d.Message
			m.Attempts, m.NextAttempt, m.FirstErrorAt, m.LastErrorAt, m.LastError = 0, time.Time{}, time.Time{}, time.Time{}, ""
			m.ReplayedAt = now
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if err := q.Put(u64key(seq), encodeMessage(&m)); err != nil {
				return err
			}
			r.newSeq, r.newKey = seq, m.Key
			r.bytesDelta, r.pendingDelta = int64(len(m.Payload)), 1
		}
		if err := dead.Delete(k); err != nil {
			return err
		}
		r.deadDelta = -1
	}
	*cur += r.bytesDelta
	return nil
}

func copyBookkeeping(dst, src *Message) {
	dst.Attempts = src.Attempts
	dst.NextAttempt = src.NextAttempt
	dst.FirstErrorAt = src.FirstErrorAt
	dst.LastErrorAt = src.LastErrorAt
	dst.LastError = src.LastError
}
