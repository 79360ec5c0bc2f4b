package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A journal is a bounded list of opaque entries per key, kept in the generic state bucket
// kv/<name>. The outbox does not read the entries; the sidecar's incident trace is one.
// Appends go through the writer (opJournal) and so share its group commits: a caller that
// batches its entries (the trace flushes at most once a second) adds no fsync of its own
// under load. Each key keeps its newest max entries; the count of older ones dropped is
// kept. An append writes only the new entries (and deletes the ones past max), whatever
// the length of the list.
//
// Keys of kv/<name>:
//
//	<key>                   header: 0x01 | varint last append (Unix nanos) | uvarint dropped
//	                        | uvarint first seq | uvarint next seq
//	<key> 0x00 <seq, 8 B BE>  one entry (seq from first to next-1)

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

type journalHeader struct {
	at          time.Time
	dropped     int
	first, next uint64
}

func decodeJournalHeader(v []byte) (journalHeader, error) {
	if len(v) == 0 || v[0] != journalV1 {
		return journalHeader{}, fmt.Errorf("%w: unknown journal version", errCorrupt)
	}
	r := reader{b: v[1:]}
	var h journalHeader
	h.at = r.time()
	h.dropped = int(r.uvarint())
	h.first, h.next = r.uvarint(), r.uvarint()
	if r.err == nil && h.next < h.first {
		r.err = errCorrupt
	}
	return h, r.err
}

func (h journalHeader) encode() []byte {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64)
	b = append(b, journalV1)
	b = appendTime(b, h.at)
	b = binary.AppendUvarint(b, uint64(h.dropped))
	b = binary.AppendUvarint(b, h.first)
	return binary.AppendUvarint(b, h.next)
}

// entryKey is the key of entry seq of key.
func entryKey(key string, seq uint64) []byte {
	b := make([]byte, 0, len(key)+9)
	b = append(b, key...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

// AppendJournal appends to the journals of name, keeping the newest max entries of each
// key (max > 0). It returns once committed (fsynced), with the writer's next group commit.
func (s *Store) AppendJournal(name string, max int, adds []JournalAppend) error {
	if name == "" || max <= 0 {
		return fmt.Errorf("outbox: append journal %q: empty name or max %d", name, max)
	}
	for _, a := range adds {
		if a.Key == "" || len(a.Key) > maxKeyLen || bytes.IndexByte([]byte(a.Key), 0) >= 0 {
			return fmt.Errorf("outbox: append journal %s: bad key %q", name, a.Key)
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
		var h journalHeader
		if v := b.Get([]byte(a.Key)); v != nil {
			if h, err = decodeJournalHeader(v); err != nil {
				// A damaged header: the journal starts afresh (it is diagnostics).
				if err := deleteEntries(b, a.Key); err != nil {
					return err
				}
				h = journalHeader{}
			}
		}
		for _, e := range a.Entries {
			if err := b.Put(entryKey(a.Key, h.next), e); err != nil {
				return err
			}
			h.next++
		}
		h.dropped += a.Dropped
		for h.next-h.first > uint64(j.max) {
			if err := b.Delete(entryKey(a.Key, h.first)); err != nil {
				return err
			}
			h.first++
			h.dropped++
		}
		h.at = now
		if err := b.Put([]byte(a.Key), h.encode()); err != nil {
			return err
		}
	}
	return nil
}

// deleteEntries deletes every entry of key (not its header).
func deleteEntries(b *bolt.Bucket, key string) error {
	prefix := append([]byte(key), 0)
	c := b.Cursor()
	var ks [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ks = append(ks, append([]byte(nil), k...))
	}
	for _, k := range ks {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
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
		h, err := decodeJournalHeader(v)
		if err != nil {
			return fmt.Errorf("journal of %q: %w", key, err)
		}
		ok, dropped, at = true, h.dropped, h.at
		c := b.Cursor()
		prefix := append([]byte(key), 0)
		for k, v := c.Seek(entryKey(key, h.first)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			entries = append(entries, append([]byte(nil), v...))
		}
		return nil
	})
	if err != nil {
		return nil, 0, time.Time{}, false, fmt.Errorf("outbox: journal %s/%s: %w", name, key, err)
	}
	return entries, dropped, at, ok, nil
}

// DeleteJournal deletes the journal of key in name (no error if there is none).
func (s *Store) DeleteJournal(name, key string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kvPrefix + name))
		if b == nil {
			return nil
		}
		if err := deleteEntries(b, key); err != nil {
			return err
		}
		return b.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("outbox: delete journal %s/%s: %w", name, key, err)
	}
	return nil
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
		// Only the headers are read: after each header, the cursor skips over its entries
		// (key NUL seq sorts before key 0x01), so the scan — inside the writer's
		// transaction — costs one step per journal, not one per entry.
		var old []string
		c := b.Cursor()
		for k, v := c.First(); k != nil; {
			if i := bytes.IndexByte(k, 0); i >= 0 { // an entry whose header is missing
				k, v = c.Seek(append(append([]byte{}, k[:i]...), 1))
				continue
			}
			if h, err := decodeJournalHeader(v); err != nil || h.at.Before(before) {
				old = append(old, string(k))
			}
			k, v = c.Seek(append(append([]byte{}, k...), 1))
		}
		for _, k := range old {
			if err := deleteEntries(b, k); err != nil {
				return err
			}
			if err := b.Delete([]byte(k)); err != nil {
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
