package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepChunk bounds the expired messages moved per sweep transaction batch.
const sweepChunk = 1000

// sweeper moves expired messages (MaxAge) to the dead letters at Open and then every
// minute (or every MaxAge/2 when shorter), even those waiting behind a stuck key.
func (s *Store) sweeper() {
	defer s.bg.Done()
	every := min(time.Minute, max(s.opts.MaxAge/2, 10*time.Millisecond))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.sweepExpired(); err != nil && !s.isClosed() {
			s.log.Error("outbox expiry sweep failed", "err", err)
		}
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepExpired dead-letters every expired pending message that is not with a handler,
// with reason "expired after <age>: <last error>". It walks each queue in seq order, which
// is the order of enqueue (and replay) times, and stops at the first message that has not
// expired: the cost is proportional to what it moves. (Should the clock have stepped back,
// a message hidden behind a younger one is still expired when it comes up for delivery.)
// A message with a handler is left to the outcome of that delivery. It returns how many it
// moved.
func (s *Store) sweepExpired() (int, error) {
	s.mu.Lock()
	topics := make([]Topic, 0, len(s.topics))
	for t, ti := range s.topics {
		if ti.pending > 0 {
			topics = append(topics, t)
		}
	}
	s.mu.Unlock()
	total := 0
	for _, t := range topics {
		from := uint64(0)
		for s.closeCtx.Err() == nil {
			now := s.opts.Now()
			var seqs []uint64
			err := s.view(func(tx *bolt.Tx) error {
				q := tx.Bucket(queueBucket(t))
				if q == nil {
					return nil
				}
				c := q.Cursor()
				for k, v := c.Seek(u64key(from)); k != nil && len(seqs) < sweepChunk; k, v = c.Next() {
					h, err := decodeHeader(v)
					if err != nil {
						return fmt.Errorf("seq %d: %w", seqOf(k), err)
					}
					base := h.createdAt
					if h.replayedAt.After(base) {
						base = h.replayedAt
					}
					if now.Sub(base) <= s.opts.MaxAge {
						break
					}
					seqs = append(seqs, seqOf(k))
				}
				return nil
			})
			if err != nil {
				return total, fmt.Errorf("outbox: expiry sweep of %s: %w", t, err)
			}
			if len(seqs) == 0 {
				break
			}
			rs := make([]*writeReq, len(seqs))
			for i, seq := range seqs {
				r := getReq()
				r.kind, r.topic, r.seq = opExpire, t, seq
				rs[i] = r
			}
			if err := s.submitAll(rs); err != nil {
				for _, r := range rs {
					putReq(r)
				}
				return total, err
			}
			for _, r := range rs {
				if r.err == nil {
					total++
				} else if r.err != ErrNotFound {
					s.log.Error("outbox cannot move expired message to dead letters", "topic", string(t), "seq", r.seq, "err", r.err)
				}
				putReq(r)
			}
			from = seqs[len(seqs)-1] + 1
			if len(seqs) < sweepChunk {
				break
			}
		}
	}
	if total > 0 {
		s.log.Warn("outbox moved expired messages to dead letters", "count", total)
	}
	return total, nil
}
