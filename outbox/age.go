package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OldestPending returns when the oldest pending message of topic started waiting: the
// CreatedAt of the first entry of queue/<topic> (or its ReplayedAt, if later). Seqs grow
// with every enqueue and replay, so the first entry is the one that has waited longest:
// one cursor step and a header decode, whatever the backlog (cheap enough for every
// metrics scrape). ok is false when nothing is pending.
func (s *Store) OldestPending(topic Topic) (since time.Time, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(topic))
		if b == nil {
			return nil
		}
		k, v := b.Cursor().First()
		if k == nil {
			return nil
		}
		h, err := decodeHeader(v)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seqOf(k), err)
		}
		since, ok = h.createdAt, true
		if h.replayedAt.After(since) {
			since = h.replayedAt
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("outbox: oldest pending of %s: %w", topic, err)
	}
	return since, ok, nil
}
