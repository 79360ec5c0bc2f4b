package outbox

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Listings of pending messages for operators (the admin API's outbox and links views):
// read-only, O(limit) reads, no effect on delivery.

// PendingAfter lists up to limit pending messages of topic whose Seq is greater than
// after, in seq order (the order they were queued), payloads included. limit must be
// positive.
func (s *Store) PendingAfter(topic Topic, after uint64, limit int) ([]Message, error) {
	var out []Message
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(topic))
		if b == nil || after == ^uint64(0) {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(u64key(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("bad key %x: %w", k, errCorrupt)
			}
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

// PendingOf lists the pending messages of one key of topic in delivery order (its FIFO,
// head first), at most limit of them (0 = all), payloads included, and how many it has in
// all (counted along its chain).
func (s *Store) PendingOf(topic Topic, key string, limit int) ([]Message, int, error) {
	var (
		out []Message
		n   int
	)
	err := s.view(func(tx *bolt.Tx) error {
		keys, q, next := tx.Bucket(keysBucket(topic)), tx.Bucket(queueBucket(topic)), tx.Bucket(nextBucket(topic))
		if keys == nil || q == nil || next == nil {
			return nil
		}
		seq, ok, err := headOf(keys, []byte(key))
		for ; err == nil && ok; seq, ok = decodeSeq(next.Get(u64key(seq))) {
			n++
			if limit > 0 && len(out) >= limit {
				continue
			}
			v := q.Get(u64key(seq))
			if v == nil {
				return fmt.Errorf("key %q: seq %d of its chain not in queue: %w", key, seq, errCorrupt)
			}
			m, err := decodeMessage(v, topic, seq)
			if err != nil {
				return fmt.Errorf("seq %d: %w", seq, err)
			}
			out = append(out, m)
		}
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: pending of %s/%s: %w", topic, key, err)
	}
	return out, n, nil
}

// LinkCount returns how many incidents have a link.
func (s *Store) LinkCount() (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bktLinks).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: link count: %w", err)
	}
	return n, nil
}

// LinksAfter returns up to limit links whose incident id sorts after after ("" = from the
// first), sorted by incident id, and whether more follow.
func (s *Store) LinksAfter(after string, limit int) ([]Link, bool, error) {
	var (
		out  []Link
		more bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktLinks).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				more = true
				return nil
			}
			l, err := decodeLink(k, v)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("outbox: links: %w", err)
	}
	return out, more, nil
}

func decodeLink(k, v []byte) (Link, error) {
	var l Link
	if err := json.Unmarshal(v, &l); err != nil {
		return Link{}, fmt.Errorf("link %s: %w", k, err)
	}
	return l, nil
}
