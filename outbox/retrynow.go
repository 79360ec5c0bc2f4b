package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RetryNow clears the retry backoff of topic: the head of key ("" = of every key) that
// waits for its NextAttempt is made due now, and an open circuit breaker sends its next
// probe now. Attempts and strikes are kept (a failure backs off as it would have). A key
// whose head is with a handler is left to that handler's outcome. It returns how many
// heads had a backoff cleared (on disk or in memory). It is an operator's command (the admin API's "retry now"): one
// small-state transaction, outside the writer, that rewrites only the NextAttempt of
// heads not in flight; it cannot race the writer on them, since the writer changes a head
// only through its handler (in flight) or the expiry sweep (which reads it afresh).
func (s *Store) RetryNow(topic Topic, key string) (int, error) {
	if err := validTopic(topic); err != nil {
		return 0, err
	}
	now := s.opts.Now()
	s.mu.Lock()
	ti := s.topics[topic]
	var waiting []string
	if ti != nil {
		for k, ks := range ti.keys {
			if (key == "" || k == key) && ks.count > 0 && !ks.inflight {
				waiting = append(waiting, k)
			}
		}
	}
	s.mu.Unlock()
	if ti == nil {
		return 0, nil
	}
	var (
		cleared []string
		wrote   map[string]bool // heads whose NextAttempt was rewritten
	)
	err := s.update(func(tx *bolt.Tx) error {
		cleared, wrote = cleared[:0], map[string]bool{}
		keys, q := tx.Bucket(keysBucket(topic)), tx.Bucket(queueBucket(topic))
		if keys == nil || q == nil {
			return nil
		}
		for _, k := range waiting {
			seq, ok, err := headOf(keys, []byte(k))
			if err != nil || !ok {
				continue // gone meanwhile
			}
			v := q.Get(u64key(seq))
			if v == nil {
				continue
			}
			m, err := decodeMessage(v, topic, seq)
			if err != nil {
				return fmt.Errorf("seq %d: %w", seq, err)
			}
			if !m.NextAttempt.After(now) {
				cleared = append(cleared, k) // due already (maybe behind the breaker)
				continue
			}
			m.NextAttempt = time.Time{}
			if err := q.Put(u64key(seq), encodeMessage(&m)); err != nil {
				return err
			}
			cleared, wrote[k] = append(cleared, k), true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: retry %s now: %w", topic, err)
	}
	n := 0
	s.mu.Lock()
	for _, k := range cleared {
		if ti.dueNow(k, now) || wrote[k] {
			n++
		}
	}
	if ti.brOpen && !ti.brProbe {
		ti.brNext = time.Now() // the breaker runs on the wall clock
	}
	s.mu.Unlock()
	ti.poke()
	return n, nil
}

// dueNow makes key's head due at once when it waits for a retry (a fresh state in ready;
// the waiting entry in timers becomes stale, as in rearm), keeping its failures. It
// reports whether the key was waiting.
func (ti *topicIndex) dueNow(key string, now time.Time) bool {
	ks := ti.keys[key]
	if ks == nil || ks.count == 0 || ks.inflight {
		return false
	}
	if !ks.queued || !ks.notBefore.After(now) {
		return false // ready already
	}
	fresh := &keyState{key: key, count: 1, failures: ks.failures}
	ti.keys[key] = fresh
	ti.schedule(fresh, now)
	return true
}
