package outbox

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A journal is a bounded list of opaque entries per key, kept in the generic state bucket
// kv/<name> (so ForgetIncident drops a key's journal with the rest of its state). The
// outbox does not read the entries; the sidecar's incident trace is one. Appends go
// through the writer (opJournal) and so share its group commits: a caller that batches
// its entries (the trace flushes at most once a second) adds no fsync of its own under
// load. Each key keeps its newest max entries; the count of older ones dropped is kept
// with them.
//
// Value: 0x01 | varint last append (Unix nanos) | uvarint dropped | (uvarint len, bytes)*

const journalV1 = 0x01

// JournalAppend is what AppendJournal adds to one key: Entries (oldest first), and Dropped,
// entries the caller dropped before they reached the store (counted like trimmed ones).
type JournalAppend struct {
	Key     string
	Entries [][]byte
	Dropped int
}

// journalReq is the writer request of an AppendJournal.
type journalReq struct {
	name string
	max  int
	adds []JournalAppend
}

// AppendJournal appends to the journals of name, keeping the newest max entries of each
// key (max > 0). It returns once committed (fsynced), with the writer's next group commit.
func (s *Store) AppendJournal(name string, max int, adds []JournalAppend) error {
	if name == "" || max <= 0 {
		return fmt.Errorf("outbox: append journal %q: empty name or max %d", name, max)
	}
	for _, a := range adds {
		if a.Key == "" || len(a.Key) > maxKeyLen {
			return fmt.Errorf("outbox: append journal %s: bad key of %d bytes", name, len(a.Key))
		}
	}
	r := getReq()
	defer putReq(r)
	r.kind, r.journal = opJournal, &journalReq{name: name, max: max, adds: adds}
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return err
	}
	if r.err != nil {
		return fmt.Errorf("outbox: append journal %s: %w", name, r.err)
	}
	return nil
}

// applyJournal performs an opJournal inside the writer's transaction.
func applyJournal(tx *bolt.Tx, j *journalReq, now time.Time) error {
	b, err := tx.CreateBucketIfNotExists([]byte(kvPrefix + j.name))
	if err != nil {
		return err
	}
	for _, a := range j.adds {
		entries, dropped, _, err := decodeJournal(b.Get([]byte(a.Key)))
		if err != nil {
			entries, dropped = nil, 0 // a damaged journal is started afresh: it is diagnostics
		}
		entries = append(entries, a.Entries...)
		dropped += a.Dropped
		if over := len(entries) - j.max; over > 0 {
			entries, dropped = entries[over:], dropped+over
		}
		if err := b.Put([]byte(a.Key), encodeJournal(entries, dropped, now)); err != nil {
			return err
		}
	}
	return nil
}

func encodeJournal(entries [][]byte, dropped int, at time.Time) []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for _, e := range entries {
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, n)
	b = append(b, journalV1)
	b = appendTime(b, at)
	b = binary.AppendUvarint(b, uint64(dropped))
	for _, e := range entries {
		b = appendBytes(b, e)
	}
	return b
}

// decodeJournal decodes a journal value (nil: none); the entries are copies.
func decodeJournal(v []byte) (entries [][]byte, dropped int, at time.Time, err error) {
	if v == nil {
		return nil, 0, time.Time{}, nil
	}
	if len(v) == 0 || v[0] != journalV1 {
		return nil, 0, time.Time{}, fmt.Errorf("%w: unknown journal version", errCorrupt)
	}
	r := reader{b: v[1:]}
	at = r.time()
	dropped = int(r.uvarint())
	for r.err == nil && len(r.b) > 0 {
		entries = append(entries, append([]byte(nil), r.bytes()...))
	}
	return entries, dropped, at, r.err
}

// Journal returns the entries of key in journal name (oldest first), how many older ones
// were dropped, and when the last append was; ok is false when there is none.
func (s *Store) Journal(name, key string) (entries [][]byte, dropped int, at time.Time, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kvPrefix + name))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		var derr error
		entries, dropped, at, derr = decodeJournal(v)
		return derr
	})
	if err != nil {
		return nil, 0, time.Time{}, false, fmt.Errorf("outbox: journal %s/%s: %w", name, key, err)
	}
	return entries, dropped, at, ok, nil
}

// PruneJournal deletes the journals of name whose last append is before before (and
// damaged ones), and returns how many it deleted: for keys no other state's pruning reaches.
func (s *Store) PruneJournal(name string, before time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket([]byte(kvPrefix + name))
		if b == nil {
			return nil
		}
		var old [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			r := reader{b: v}
			if len(v) == 0 || v[0] != journalV1 {
				old = append(old, append([]byte(nil), k...))
				return nil
			}
			r.b = v[1:]
			if at := r.time(); r.err != nil || at.Before(before) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: prune journal %s: %w", name, err)
	}
	return n, nil
}
