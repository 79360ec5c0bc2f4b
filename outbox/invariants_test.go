package outbox

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// checkFile verifies the on-disk invariants of format 2 for every topic: each key's chain
// (keys + next) reaches only queue records of that key, in ascending seq order; every queue
// record is on exactly one chain; no next entry is left outside a chain; the sys counters
// equal the records. With quiet (no Deliver, no write in flight), it also compares the
// in-memory index and counters with the file.
func checkFile(t *testing.T, s *Store, quiet bool) {
	t.Helper()
	type fileState struct {
		c    counters
		keys map[string]bool
	}
	files := map[Topic]fileState{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var topics []Topic
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if n, ok := cutPrefix(string(name), queuePrefix); ok {
				topics = append(topics, Topic(n))
			}
			return nil
		})
		for _, tp := range topics {
			q, next, keys, dead := tx.Bucket(queueBucket(tp)), tx.Bucket(nextBucket(tp)), tx.Bucket(keysBucket(tp)), tx.Bucket(deadBucket(tp))
			var actual counters
			onChain := map[uint64]bool{}
			fs := fileState{keys: map[string]bool{}}
			err := keys.ForEach(func(k, v []byte) error {
				fs.keys[string(k)] = true
				seq, ok := decodeSeq(v)
				if !ok {
					return fmt.Errorf("%s key %q: bad head", tp, k)
				}
				prev := uint64(0)
				for {
					if onChain[seq] {
						return fmt.Errorf("%s key %q: seq %d twice on chains", tp, k, seq)
					}
					if seq <= prev {
						return fmt.Errorf("%s key %q: chain not ascending (%d after %d)", tp, k, seq, prev)
					}
					onChain[seq] = true
					rec := q.Get(u64key(seq))
					if rec == nil {
						return fmt.Errorf("%s key %q: chain seq %d not in queue", tp, k, seq)
					}
					h, err := decodeHeader(rec)
					if err != nil {
						return err
					}
					if string(h.key) != string(k) {
						return fmt.Errorf("%s key %q: seq %d belongs to key %q", tp, k, seq, h.key)
					}
					prev = seq
					n, ok := decodeSeq(next.Get(u64key(seq)))
					if !ok {
						break
					}
					seq = n
				}
				return nil
			})
			if err != nil {
				return err
			}
			err = q.ForEach(func(k, v []byte) error {
				h, err := decodeHeader(v)
				if err != nil {
					return err
				}
				if !onChain[seqOf(k)] {
					return fmt.Errorf("%s seq %d (key %q) on no chain: unreachable", tp, seqOf(k), h.key)
				}
				actual.pending++
				actual.bytes += int64(h.payloadLen)
				return nil
			})
			if err != nil {
				return err
			}
			err = next.ForEach(func(k, _ []byte) error {
				if !onChain[seqOf(k)] {
					return fmt.Errorf("%s: next entry of seq %d outside any chain", tp, seqOf(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			_ = dead.ForEach(func(_, _ []byte) error { actual.dead++; return nil })
			got, err := getCounters(tx, tp)
			if err != nil {
				return err
			}
			if got != actual {
				return fmt.Errorf("%s: sys counters %+v, records %+v", tp, got, actual)
			}
			fs.c = actual
			files[tp] = fs
		}
		return nil
	})
	if err != nil {
		t.Fatalf("file invariants: %v", err)
	}
	if !quiet {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for tp, fs := range files {
		ti := s.topics[tp]
		if ti == nil {
			if fs.c != (counters{}) {
				t.Fatalf("%s: no index for %+v", tp, fs.c)
			}
			continue
		}
		if int64(ti.pending) != fs.c.pending || ti.bytes != fs.c.bytes || int64(ti.dead) != fs.c.dead {
			t.Fatalf("%s: index counts %d/%d/%d, file %+v", tp, ti.pending, ti.bytes, ti.dead, fs.c)
		}
		total += fs.c.bytes
		for k := range fs.keys {
			ks := ti.keys[k]
			if ks == nil || ks.count != 1 {
				t.Fatalf("%s: key %q has messages but index has %+v", tp, k, ks)
			}
			if !ks.inflight && !ks.queued {
				t.Fatalf("%s: key %q with messages is neither queued nor in flight: never delivered", tp, k)
			}
		}
		for k, ks := range ti.keys {
			if ks.count != 0 && !fs.keys[k] {
				t.Fatalf("%s: index key %q (count %d) has no messages on disk", tp, k, ks.count)
			}
		}
	}
	if s.pendingBytes != total {
		t.Fatalf("pendingBytes %d, file %d", s.pendingBytes, total)
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
