package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneChunk bounds the deletions of one prune transaction, so pruning never holds the
// write lock (and so Enqueue) for long.
const pruneChunk = 10_000

// pruner forgets idempotency keys and unclaimed pending call statuses older than
// DedupRetention: at Open, then every hour (or every DedupRetention/2 when shorter).
func (s *Store) pruner() {
	defer s.bg.Done()
	every := min(time.Hour, max(s.opts.DedupRetention/2, time.Second))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.prune(); err != nil && !s.isClosed() {
			s.log.Error("outbox prune failed", "err", err)
		}
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
	}
}

// prune deletes expired dedup entries (walking the time index from the oldest, so the cost
// is proportional to what is deleted) and stale pending statuses. It returns how many
// dedup keys it removed.
func (s *Store) prune() (int, error) {
	cutoff := s.opts.Now().Add(-s.opts.DedupRetention)
	limit := binary.BigEndian.AppendUint64(nil, uint64(cutoff.UnixNano()))
	total := 0
	for s.closeCtx.Err() == nil {
		n := 0
		err := s.update(func(tx *bolt.Tx) error {
			d, dt := tx.Bucket(bktDedup), tx.Bucket(bktDedupTime)
			c := dt.Cursor()
			for k, _ := c.First(); k != nil && n < pruneChunk; k, _ = c.First() {
				if len(k) < 8 || bytes.Compare(k[:8], limit) >= 0 {
					break
				}
				key := append([]byte{}, k[8:]...)
				// Only delete the main entry if it still carries this time (it may have been
				// re-recorded later with a newer time index entry).
				if v := d.Get(key); v != nil && bytes.Equal(v, k[:8]) {
					if err := d.Delete(key); err != nil {
						return err
					}
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("outbox: prune idempotency keys: %w", err)
		}
		total += n
		if n < pruneChunk {
			break
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		ps := tx.Bucket(bktPendingStatus)
		var stale [][]byte
		err := ps.ForEach(func(k, v []byte) error {
			var p pendingStatus
			if json.Unmarshal(v, &p) != nil || p.At.Before(cutoff) {
				stale = append(stale, append([]byte{}, k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := ps.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("outbox: prune pending call statuses: %w", err)
	}
	if total > 0 {
		s.log.Info("outbox pruned idempotency keys", "removed", total)
	}
	return total, nil
}
