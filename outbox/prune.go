package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneChunk bounds the deletions of one prune transaction, so pruning never holds the
// write lock (and so Enqueue) for long; pruneScan bounds the idempotency keys one read
// transaction of the pruner examines (a long read transaction would delay the writer's
// remapping of a growing file).
const (
	pruneChunk = 10_000
	pruneScan  = 50_000
)

// pruner forgets idempotency keys older than DedupRetention: at Open, then every hour (or
// every DedupRetention/2 when shorter). (Unclaimed pending call statuses are unlinked
// state: ExpireUnlinked forgets them, see unlinked.go.)
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

// prune deletes expired dedup entries. It returns how many it removed.
//
// There is no time index (it would cost the writer pages at every commit): the dedup
// bucket is walked in key order in chunks, each a read transaction that examines at most
// pruneScan entries and collects at most pruneChunk expired ones, then a write transaction
// that deletes those still expired (one may have been re-recorded meanwhile). The walk
// resumes after the last key examined, so a pass costs O(recorded keys) reads, spread over
// bounded transactions, once per pruner period.
func (s *Store) prune() (int, error) {
	now := s.opts.Now()
	expired := func(v []byte) bool {
		// Same rule as dedupSeen: remembered while now - at < DedupRetention.
		return len(v) != 8 || now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) >= s.opts.DedupRetention
	}
	total := 0
	var from []byte // resume after this key (nil: from the start)
	for done := false; !done && s.closeCtx.Err() == nil; {
		var stale [][]byte
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bktDedup).Cursor()
			k, v := c.First()
			if from != nil {
				if k, v = c.Seek(from); k != nil && bytes.Equal(k, from) {
					k, v = c.Next()
				}
			}
			for scanned := 0; ; k, v = c.Next() {
				if k == nil {
					done = true
					return nil
				}
				if scanned == pruneScan || len(stale) == pruneChunk {
					return nil
				}
				scanned++
				from = append(from[:0], k...)
				if expired(v) {
					stale = append(stale, append([]byte{}, k...))
				}
			}
		})
		if err != nil {
			return total, fmt.Errorf("outbox: prune idempotency keys: %w", err)
		}
		if len(stale) == 0 {
			continue
		}
		n := 0
		err = s.update(func(tx *bolt.Tx) error {
			n = 0
			d := tx.Bucket(bktDedup)
			for _, k := range stale {
				if v := d.Get(k); v != nil && expired(v) {
					if err := d.Delete(k); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("outbox: prune idempotency keys: %w", err)
		}
		total += n
	}
	if total > 0 {
		s.log.Info("outbox pruned idempotency keys", "removed", total)
	}
	return total, nil
}
