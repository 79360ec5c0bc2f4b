package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BaselineUpdate opens (creating) a plain bbolt file at path and returns an enqueue that
// writes each payload in its own db.Update (one transaction, one fsync per call; safe for
// concurrent use): the "one Update per message" baseline that the outbox's group commit is
// measured against (cmd/sidecar-bench, BenchmarkEnqueueBaselineUpdate). close closes the
// file. It is not an outbox: no index, no idempotency keys.
func BaselineUpdate(path string) (enqueue func(payload []byte) error, close func() error, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: baseline: open %s: %w", path, err)
	}
	name := []byte("baseline")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(name)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("outbox: baseline: %w", err)
	}
	enqueue = func(payload []byte) error {
		return db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			return b.Put(u64key(seq), payload)
		})
	}
	return enqueue, db.Close, nil
}
