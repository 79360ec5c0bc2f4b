package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Checking a file for damage. bbolt trusts its file: a damaged page makes it panic ("page
// expected to be ...", index out of range), and a page past the end of a truncated file is
// a memory fault. Worse, bbolt's own walk of the file at a read-write open (it rebuilds
// the freelist: NoFreelistSync) runs in a goroutine of its own, where such a panic cannot
// be recovered. So before the read-write open, Open opens the file read-only (no freelist
// walk) and walks every page of the tree itself, with panics and faults turned into
// ErrCorrupt (safely): the same pages bbolt's open reads, so the cost is that of the open
// itself. A file up to fullCheckMaxSize then also gets bbolt's complete consistency check
// (tx.Check: free pages, key order, unreachable pages); a larger one gets the page walk
// only (its records are checked when read: a damaged one is ErrCorrupt, not a panic).
// `cad-sidecar outbox check` (Check) does everything on any size, and decodes every record.

// fullCheckMaxSize bounds the file size for which Open runs tx.Check.
var fullCheckMaxSize int64 = 256 << 20

// openReadOnly opens path read-only (shared lock, 1 s timeout) with the errors worded for
// the operator.
func openReadOnly(path string) (*bolt.DB, error) {
	var db *bolt.DB
	err := safely(path, func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		return err
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%s is locked: another process (a running sidecar?) holds it; stop it first: %w", path, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, ErrCorrupt):
		return nil, err
	}
	return nil, damagedError(path, err)
}

// preflight checks a non-empty existing file before its read-write open (see above).
func preflight(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil // missing or empty: bbolt creates or initialises it (identity decides first)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	return safely(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if err := checkSize(tx, path, fi.Size()); err != nil {
				return err
			}
			if err := walkPages(tx); err != nil {
				return damagedError(path, err)
			}
			if fi.Size() > fullCheckMaxSize {
				return nil
			}
			if errs := consistency(tx, 5); len(errs) > 0 {
				return damagedError(path, errors.New(strings.Join(errs, "; ")))
			}
			return nil
		})
	})
}

// checkSize refuses a file shorter than its own meta page says (truncated).
func checkSize(tx *bolt.Tx, path string, size int64) error {
	if want := tx.Size(); size < want {
		return damagedError(path, fmt.Errorf("the file is %d bytes but its header says %d: it was truncated", size, want))
	}
	return nil
}

// walkPages iterates every key of every bucket (nested ones included), which reads every
// branch and leaf page of the tree. It panics on a damaged page: run it under safely.
func walkPages(tx *bolt.Tx) error {
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					if err := walk(sub); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
}

// consistency runs bbolt's tx.Check and returns up to max problems. Only after walkPages
// succeeded: tx.Check rebuilds the freelist in a goroutine that cannot recover a panic.
func consistency(tx *bolt.Tx, max int) []string {
	var out []string
	for err := range tx.Check() {
		if len(out) < max {
			out = append(out, err.Error())
		}
	}
	return out
}

// TopicReport counts one topic's records.
type TopicReport struct {
	Pending int // messages in the queue
	Keys    int // keys (incidents) with pending messages
	Dead    int // dead letters
	Bytes   int64
}

// Report is the outcome of Check (and, for what was copied, of Salvage).
type Report struct {
	File     string
	Size     int64
	StoreID  string
	Format   string
	Topics   map[Topic]TopicReport
	Dedup    int // idempotency keys
	Links    int
	State    int      // other state entries (cursors, hashes, pending statuses, ...)
	Problems []string // empty: the file is sound
	// NothingRead (Salvage): the source had nothing readable at all (empty, or both
	// meta pages damaged): the salvaged file is empty and must not replace the original.
	NothingRead bool
}

// Sound reports whether Check found no problem.
func (r *Report) Sound() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < 1000 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == 1000 {
		r.Problems = append(r.Problems, "... (more problems not listed)")
	}
}

// TopicNames returns the report's topics sorted.
func (r *Report) TopicNames() []Topic {
	var ts []Topic
	for t := range r.Topics {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// Check examines the outbox file at path without changing it (read-only; it refuses when
// a running sidecar holds the file): the size against the header, every page, bbolt's
// consistency check, every record of every bucket the outbox knows (messages, dead
// letters, idempotency keys, links, statuses), the per-key chains and the counters. The
// error is for a file that could not be examined at all (missing, locked); damage is in
// Report.Problems.
func Check(path string) (*Report, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("outbox: check: %w", err)
	}
	r := &Report{File: path, Size: fi.Size(), Topics: map[Topic]TopicReport{}}
	if fi.Size() == 0 {
		r.problem("the file is empty (0 bytes)")
		return r, nil
	}
	db, err := openReadOnly(path)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			r.problem("%v", err)
			return r, nil
		}
		return nil, fmt.Errorf("outbox: check: %w", err)
	}
	defer db.Close()
	err = safely(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			pagesOK := true
			if want := tx.Size(); fi.Size() < want {
				r.problem("the file is %d bytes but its header says %d: it was truncated", fi.Size(), want)
				pagesOK = false // bbolt's check would fault past the end; the records are read below
			}
			if !pagesOK {
				// no page walk either
			} else if err := recoverFaults(func() error { return walkPages(tx) }); err != nil {
				r.problem("page walk: %v", err)
				pagesOK = false
			}
			if pagesOK {
				for _, e := range consistency(tx, 100) {
					r.problem("bbolt check: %s", e)
				}
			}
			checkRecords(tx, path, r)
			return nil
		})
	})
	if err != nil {
		r.problem("%v", err)
	}
	if mid, ok, _ := readMarker(path); ok && r.StoreID != "" && mid != r.StoreID {
		r.problem("the file has store id %s but %s says %s: the sidecar refuses it (a different data file was put in place)", r.StoreID, MarkerPath(path), mid)
	}
	return r, nil
}

// checkRecords decodes every record the outbox knows, bucket by bucket (a damaged page
// in one bucket does not hide the others), and checks chains and counters.
func checkRecords(tx *bolt.Tx, path string, r *Report) {
	guard := func(what string, fn func() error) {
		if err := recoverFaults(fn); err != nil {
			r.problem("%s: %v", what, err)
		}
	}
	guard("sys", func() error {
		sys := tx.Bucket(bktSys)
		if sys == nil {
			r.problem("no sys bucket: not an outbox file")
			return nil
		}
		r.Format, r.StoreID = string(sys.Get(sysFormat)), string(sys.Get(sysStoreID))
		switch {
		case newerFormat(r.Format):
			r.problem("format %q: written by a newer cad-sidecar (this version reads %q and older); check it with that version", r.Format, formatVersion)
		case r.Format != formatVersion:
			r.problem("format %q (this version writes %q; Open migrates older formats)", r.Format, formatVersion)
		}
		return nil
	})
	var topics []Topic
	guard("bucket list", func() error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if t, ok := strings.CutPrefix(string(name), queuePrefix); ok {
				topics = append(topics, Topic(t))
			}
			return nil
		})
	})
	for _, t := range topics {
		guard("topic "+string(t), func() error {
			tr, problems := checkTopic(tx, t, r.Format == formatVersion)
			for _, p := range problems {
				r.problem("%s", p)
			}
			r.Topics[t] = tr
			return nil
		})
	}
	guard("dedup", func() error {
		b := tx.Bucket(bktDedup)
		if b == nil {
			r.problem("no dedup bucket")
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				r.problem("dedup key %q: value of %d bytes", k, len(v))
			}
			r.Dedup++
			return nil
		})
	})
	guard("links", func() error {
		b := tx.Bucket(bktLinks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var l Link
			if err := json.Unmarshal(v, &l); err != nil {
				r.problem("link %q: %v", k, err)
			}
			r.Links++
			return nil
		})
	})
	guard("pending_status", func() error {
		b := tx.Bucket(bktPendingStatus)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var p pendingStatus
			if err := json.Unmarshal(v, &p); err != nil {
				r.problem("pending status of call %q: %v", k, err)
			}
			r.State++
			return nil
		})
	})
	guard("state", func() error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !strings.HasPrefix(string(name), kvPrefix) && string(name) != string(bktLinksByCall) {
				return nil
			}
			return b.ForEach(func(_, _ []byte) error { r.State++; return nil })
		})
	})
}

// checkTopic decodes t's messages and dead letters and checks the per-key chains (keys +
// next reach only queue records of that key, in ascending seq order; every queue record
// is on exactly one chain; no next entry outside a chain) and, with counters, the sys
// counters against the records.
func checkTopic(tx *bolt.Tx, t Topic, counted bool) (TopicReport, []string) {
	var (
		tr       TopicReport
		problems []string
	)
	bad := func(format string, args ...any) {
		if len(problems) < 200 {
			problems = append(problems, fmt.Sprintf("topic %s: ", t)+fmt.Sprintf(format, args...))
		}
	}
	q, next, keys, dead := tx.Bucket(queueBucket(t)), tx.Bucket(nextBucket(t)), tx.Bucket(keysBucket(t)), tx.Bucket(deadBucket(t))
	if q == nil {
		return tr, []string{fmt.Sprintf("topic %s: no queue bucket", t)}
	}
	keyOf := map[uint64]string{}
	_ = q.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			bad("queue key %x is not a seq", k)
			return nil
		}
		m, err := decodeMessage(v, t, seqOf(k))
		if err != nil {
			bad("message seq %d: %v", seqOf(k), err)
			return nil
		}
		keyOf[seqOf(k)] = m.Key
		tr.Pending++
		tr.Bytes += int64(len(m.Payload))
		return nil
	})
	if dead != nil {
		_ = dead.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				bad("dead letter key %x is not a seq", k)
				return nil
			}
			if _, err := decodeDead(v, t, seqOf(k)); err != nil {
				bad("dead letter seq %d: %v", seqOf(k), err)
			}
			tr.Dead++
			return nil
		})
	}
	if keys == nil || next == nil {
		if counted {
			bad("missing keys or next bucket")
		}
		return tr, problems
	}
	onChain := map[uint64]bool{}
	_ = keys.ForEach(func(k, v []byte) error {
		tr.Keys++
		seq, ok := decodeSeq(v)
		if !ok {
			bad("key %q: bad head entry", k)
			return nil
		}
		for prev := uint64(0); ; {
			if onChain[seq] {
				bad("key %q: seq %d twice on chains", k, seq)
				return nil
			}
			if seq <= prev {
				bad("key %q: chain not ascending (%d after %d)", k, seq, prev)
				return nil
			}
			onChain[seq] = true
			owner, ok := keyOf[seq]
			if !ok {
				bad("key %q: chain reaches seq %d, not a readable message", k, seq)
				return nil
			}
			if owner != string(k) {
				bad("key %q: chain reaches seq %d of key %q", k, seq, owner)
				return nil
			}
			prev = seq
			n, ok := decodeSeq(next.Get(u64key(seq)))
			if !ok {
				return nil
			}
			seq = n
		}
	})
	for seq, k := range keyOf {
		if !onChain[seq] {
			bad("message seq %d (key %q) is on no chain: it would never be delivered", seq, k)
		}
	}
	_ = next.ForEach(func(k, _ []byte) error {
		if len(k) != 8 || !onChain[seqOf(k)] {
			bad("next entry %x outside any chain", k)
		}
		return nil
	})
	if counted {
		c, err := getCounters(tx, t)
		switch {
		case err != nil:
			bad("%v", err)
		case c != counters{int64(tr.Pending), tr.Bytes, int64(tr.Dead)}:
			bad("counters say %d pending (%d bytes), %d dead; the records are %d (%d bytes), %d",
				c.pending, c.bytes, c.dead, tr.Pending, tr.Bytes, tr.Dead)
		}
	}
	return tr, problems
}
