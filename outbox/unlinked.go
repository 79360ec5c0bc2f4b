package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Unlinked state is what arrives for an Assist call before the call is linked to an
// incident: its status (SetCallStatus keeps it in pending_status) and whatever a caller
// keeps with KeepUnlinked (the sidecar: its assistant activations), one opaque value per
// kind and call id. Nothing bounds how many calls are never linked, so:
//
//   - its bytes (keys and values) count toward Options.MaxBytes: KeepUnlinked, a status
//     kept by SetCallStatus and Enqueue return ErrFull once pending payload bytes plus
//     unlinked bytes reach it (nothing written);
//   - ExpireUnlinked forgets what was kept before a cutoff (the sidecar calls it hourly
//     with outbox.unlinked_retention).
//
// Each entry carries the time it was kept (pending_status: its At; unlinked/<kind>: an
// 8-byte big-endian Unix nanos prefix), and the byte count is rebuilt at Open from the
// buckets, so both survive restarts.

// UnlinkedCallStatus is the kind ExpireUnlinked reports for a status kept by
// SetCallStatus.
const UnlinkedCallStatus = "call_status"

const unlinkedPrefix = "unlinked/"

func unlinkedBucket(kind string) []byte { return []byte(unlinkedPrefix + kind) }

// UnlinkedEntry describes one expired entry of unlinked state.
type UnlinkedEntry struct {
	Kind   string    // UnlinkedCallStatus, or the kind given to KeepUnlinked
	CallID string    // the call it was kept for
	At     time.Time // when it was kept (last replaced)
	Bytes  int       // what it counted toward MaxBytes
}

func validKind(kind string) error {
	if kind == "" || kind == UnlinkedCallStatus || strings.Contains(kind, "/") {
		return fmt.Errorf("outbox: unlinked state kind %q: empty, reserved or with '/'", kind)
	}
	return nil
}

// KeepUnlinked stores value as the kind state of callID (replacing what was kept), stamped
// with the store's clock. It returns ErrFull (nothing written) when pending payload bytes
// plus unlinked bytes have reached MaxBytes and the new value is not smaller than the one
// it replaces.
func (s *Store) KeepUnlinked(kind, callID string, value []byte) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if callID == "" {
		return fmt.Errorf("outbox: keep %s: empty call id", kind)
	}
	rec := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), uint64(s.opts.Now().UnixNano()))
	rec = append(rec, value...)
	full := s.unlinkedFull() // read before the transaction: s.mu is not taken inside one
	var delta int64
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(unlinkedBucket(kind))
		if err != nil {
			return err
		}
		delta = int64(len(callID) + len(rec))
		if old := b.Get([]byte(callID)); old != nil {
			delta -= int64(len(callID) + len(old))
		}
		if delta >= 0 && full {
			return ErrFull
		}
		return b.Put([]byte(callID), rec)
	})
	if err != nil {
		return fmt.Errorf("outbox: keep %s of call %s: %w", kind, callID, err)
	}
	s.addUnlinked(delta)
	return nil
}

// Unlinked returns the kind state kept for callID and when it was kept.
func (s *Store) Unlinked(kind, callID string) ([]byte, time.Time, bool, error) {
	var (
		val []byte
		at  time.Time
		ok  bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(unlinkedBucket(kind))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(callID))
		if v == nil {
			return nil
		}
		if len(v) < 8 {
			return fmt.Errorf("record of %d bytes: %w", len(v), errCorrupt)
		}
		at, val, ok = time.Unix(0, int64(binary.BigEndian.Uint64(v))), append([]byte{}, v[8:]...), true
		return nil
	})
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("outbox: read %s of call %s: %w", kind, callID, err)
	}
	return val, at, ok, nil
}

// DropUnlinked deletes the kind state kept for callID (no error if absent): the call is
// linked and its state was used.
func (s *Store) DropUnlinked(kind, callID string) error {
	var delta int64
	err := s.update(func(tx *bolt.Tx) error {
		delta = 0
		b := tx.Bucket(unlinkedBucket(kind))
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(callID)); v != nil {
			delta = -int64(len(callID) + len(v))
		}
		return b.Delete([]byte(callID))
	})
	if err != nil {
		return fmt.Errorf("outbox: drop %s of call %s: %w", kind, callID, err)
	}
	s.addUnlinked(delta)
	return nil
}

// UnlinkedBytes is what unlinked state counts toward MaxBytes now.
func (s *Store) UnlinkedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unlinkedBytes
}

// ExpireUnlinked deletes, in one transaction, every entry of unlinked state (call statuses
// included) kept before cutoff, and returns them (pending_status first, then by kind and
// call id). An entry whose time cannot be read is expired too (At zero).
func (s *Store) ExpireUnlinked(cutoff time.Time) ([]UnlinkedEntry, error) {
	var out []UnlinkedEntry
	err := s.update(func(tx *bolt.Tx) error {
		out = nil
		err := forEachUnlinked(tx, func(e UnlinkedEntry) {
			if e.At.Before(cutoff) {
				out = append(out, e)
			}
		})
		if err != nil {
			return err
		}
		for _, e := range out {
			if err := unlinkedBucketOf(tx, e.Kind).Delete([]byte(e.CallID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: expire unlinked state: %w", err)
	}
	var freed int64
	for _, e := range out {
		freed += int64(e.Bytes)
	}
	s.addUnlinked(-freed)
	return out, nil
}

func unlinkedBucketOf(tx *bolt.Tx, kind string) *bolt.Bucket {
	if kind == UnlinkedCallStatus {
		return tx.Bucket(bktPendingStatus)
	}
	return tx.Bucket(unlinkedBucket(kind))
}

// forEachUnlinked calls visit for every entry of unlinked state: pending_status first,
// then the unlinked/<kind> buckets in name order.
func forEachUnlinked(tx *bolt.Tx, visit func(UnlinkedEntry)) error {
	walk := func(b *bolt.Bucket, kind string, at func(v []byte) time.Time) error {
		return b.ForEach(func(k, v []byte) error {
			visit(UnlinkedEntry{Kind: kind, CallID: string(k), At: at(v), Bytes: len(k) + len(v)})
			return nil
		})
	}
	if err := walk(tx.Bucket(bktPendingStatus), UnlinkedCallStatus, func(v []byte) time.Time {
		var p pendingStatus
		if json.Unmarshal(v, &p) != nil {
			return time.Time{}
		}
		return p.At
	}); err != nil {
		return err
	}
	c := tx.Cursor()
	prefix := []byte(unlinkedPrefix)
	for name, _ := c.Seek(prefix); name != nil && bytes.HasPrefix(name, prefix); name, _ = c.Next() {
		if err := walk(tx.Bucket(name), string(name[len(prefix):]), func(v []byte) time.Time {
			if len(v) < 8 {
				return time.Time{}
			}
			return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}); err != nil {
			return err
		}
	}
	return nil
}

// loadUnlinked counts the bytes of unlinked state (Open). It reads through s.view: a
// damaged page is ErrCorrupt naming the file, never a panic.
func (s *Store) loadUnlinked() error {
	var total int64
	err := s.view(func(tx *bolt.Tx) error {
		total = 0
		return forEachUnlinked(tx, func(e UnlinkedEntry) { total += int64(e.Bytes) })
	})
	if err != nil {
		return fmt.Errorf("count unlinked state: %w", err)
	}
	s.mu.Lock()
	s.unlinkedBytes = total
	s.mu.Unlock()
	return nil
}

// AdoptUnlinked moves every entry of the generic state bucket kvBucket (Get/Put) into the
// unlinked state of kind, stamped now, and deletes that bucket: state that an older
// version kept with Put becomes counted and expires. It returns how many entries it moved
// (0 when the bucket does not exist).
func (s *Store) AdoptUnlinked(kind, kvBucket string) (int, error) {
	if err := validKind(kind); err != nil {
		return 0, err
	}
	stamp := binary.BigEndian.AppendUint64(nil, uint64(s.opts.Now().UnixNano()))
	var (
		n     int
		delta int64
	)
	err := s.update(func(tx *bolt.Tx) error {
		n, delta = 0, 0
		old := tx.Bucket([]byte(kvPrefix + kvBucket))
		if old == nil {
			return nil
		}
		b, err := tx.CreateBucketIfNotExists(unlinkedBucket(kind))
		if err != nil {
			return err
		}
		err = old.ForEach(func(k, v []byte) error {
			rec := append(append([]byte{}, stamp...), v...)
			if prev := b.Get(k); prev != nil {
				delta -= int64(len(k) + len(prev))
			}
			delta += int64(len(k) + len(rec))
			n++
			return b.Put(append([]byte{}, k...), rec)
		})
		if err != nil {
			return err
		}
		return tx.DeleteBucket([]byte(kvPrefix + kvBucket))
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: adopt %s as unlinked %s: %w", kvBucket, kind, err)
	}
	s.addUnlinked(delta)
	return n, nil
}

func (s *Store) addUnlinked(delta int64) {
	if delta == 0 {
		return
	}
	s.mu.Lock()
	s.unlinkedBytes += delta
	s.mu.Unlock()
}

// unlinkedFull reports whether pending payload bytes plus unlinked bytes have reached
// MaxBytes.
func (s *Store) unlinkedFull() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingBytes+s.unlinkedBytes >= s.opts.MaxBytes
}

// fullWithUnlinked is Enqueue's check of the part of the budget that unlinked state
// uses (the writer checks pending bytes alone): true when unlinked state is not empty,
// pending plus unlinked bytes have reached MaxBytes and none of dedupKeys was seen (a
// duplicate is still answered as one).
func (s *Store) fullWithUnlinked(dedupKeys []string) bool {
	s.mu.Lock()
	u, p := s.unlinkedBytes, s.pendingBytes
	s.mu.Unlock()
	if u == 0 || p+u < s.opts.MaxBytes {
		return false
	}
	for _, k := range dedupKeys {
		if seen, err := s.Seen(k); err == nil && seen {
			return false
		}
	}
	return true
}
