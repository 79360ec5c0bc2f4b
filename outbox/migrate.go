package outbox

import (
	"fmt"
	"log/slog"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// migrateV1 turns a format 1 file (queue/<topic> and dead/<topic> only; the index was
// rebuilt in memory at each Open) into format 2 in the caller's transaction: it builds
// keys/<topic>, next/<topic> and the sys counters from the records. Records themselves
// are unchanged. It reads every message once, which format 2 never needs to do again.
func migrateV1(tx *bolt.Tx, log *slog.Logger) error {
	var topics []Topic
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if t, ok := strings.CutPrefix(string(name), queuePrefix); ok {
			topics = append(topics, Topic(t))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range topics {
		if err := createTopicBuckets(tx, t); err != nil {
			return err
		}
		q := tx.Bucket(queueBucket(t))
		ch := chain{q: q, next: tx.Bucket(nextBucket(t)), keys: tx.Bucket(keysBucket(t)), w: &wbuf{}, tails: map[string]uint64{}}
		keys := map[string]bool{}
		var c counters
		err := q.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("topic %q: bad queue key %x: %w", t, k, errCorrupt)
			}
			h, err := decodeHeader(v)
			if err != nil {
				return fmt.Errorf("topic %q seq %d: %w", t, seqOf(k), err)
			}
			if _, err := ch.append(string(h.key), seqOf(k)); err != nil {
				return err
			}
			keys[string(h.key)] = true
			c.pending++
			c.bytes += int64(h.payloadLen)
			return nil
		})
		if err != nil {
			return err
		}
		c.dead = int64(tx.Bucket(deadBucket(t)).Stats().KeyN)
		if err := putCounters(tx, t, c); err != nil {
			return err
		}
		log.Info("outbox topic migrated to format 2", "topic", string(t), "pending", c.pending, "keys", len(keys), "dead", c.dead)
	}
	return tx.Bucket(bktSys).Put(sysFormat, []byte(formatVersionV2))
}

// migrateV2 turns a format 2 file into format 3 in the caller's transaction: it drops the
// dedup_time index (8-byte Unix nanos ‖ idempotency key → empty). The dedup bucket itself
// is unchanged (key → 8-byte Unix nanos): format 3 prunes it by walking it (prune.go), so
// the writer no longer writes an index entry (and its pages) for every idempotency key.
func migrateV2(tx *bolt.Tx, log *slog.Logger) error {
	if tx.Bucket(bktDedupTimeV2) != nil {
		n := tx.Bucket(bktDedupTimeV2).Stats().KeyN
		if err := tx.DeleteBucket(bktDedupTimeV2); err != nil {
			return err
		}
		log.Info("outbox migrated to format 3: dropped the idempotency time index", "entries", n)
	}
	return tx.Bucket(bktSys).Put(sysFormat, []byte(formatVersion))
}
