package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Salvage copies everything readable of the outbox file src into a new outbox file dst:
// every message that decodes (with its seq, attempts and times; per-key order kept: the
// chains are rebuilt in seq order), every dead letter, the idempotency keys, links,
// statuses and generic state (kv/*, and any other flat bucket), into a fresh format-3
// file with consistent chains and counters and the store id of src (from its sys bucket,
// else from its marker), so that dst can be put in place of src (see the README). No
// marker is written for dst.
//
// A damaged page stops the read of its bucket only: the read resumes after it (in seq-keyed
// buckets, by seeking past the damaged range). What could not be read is listed in
// Report.Problems (bucket, key or seq range); Report's counts are what dst holds.
//
// It refuses while src is held by a running sidecar (the file lock), never changes src
// and never overwrites dst; on an error dst is removed.
func Salvage(src, dst string) (*Report, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("outbox: salvage: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil, fmt.Errorf("outbox: salvage: %s already exists (not overwritten)", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("outbox: salvage: %w", err)
	}
	r := &Report{File: dst, Topics: map[Topic]TopicReport{}}
	var sdb *bolt.DB
	if fi.Size() > 0 {
		if sdb, err = openReadOnly(src); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return nil, fmt.Errorf("outbox: salvage: %w", err)
			}
			r.problem("%v", err) // nothing readable (both meta pages damaged, ...)
		} else {
			defer sdb.Close()
		}
	} else {
		r.problem("%s is empty (0 bytes): nothing to read", src)
	}
	r.NothingRead = sdb == nil

	id := ""
	if sdb != nil {
		_ = recoverFaults(func() error {
			return sdb.View(func(tx *bolt.Tx) error {
				if sys := tx.Bucket(bktSys); sys != nil {
					id = string(sys.Get(sysStoreID))
				}
				return nil
			})
		})
	}
	if id == "" {
		if mid, ok, _ := readMarker(src); ok {
			id = mid
		}
	}
	if err := createSalvageTarget(dst, id); err != nil {
		return nil, fmt.Errorf("outbox: salvage: %w", err)
	}
	r.StoreID = id
	if sdb != nil {
		err = salvageInto(sdb, src, dst, r)
	}
	if err == nil {
		err = verifySalvage(dst, r)
	}
	if err != nil {
		_ = os.Remove(dst)
		return nil, fmt.Errorf("outbox: salvage %s into %s: %w", src, dst, err)
	}
	if fi, err := os.Stat(dst); err == nil {
		r.Size = fi.Size()
	}
	r.Format = formatVersion
	return r, nil
}

// createSalvageTarget creates dst as an empty outbox (buckets, format, store id; no marker).
func createSalvageTarget(dst, id string) error {
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	_ = f.Close()
	s, err := openStore(dst, Options{NoBackground: true}, &identity{assignID: id, noMarker: true})
	if err != nil {
		_ = os.Remove(dst)
		return err
	}
	if err := s.Close(); err != nil {
		_ = os.Remove(dst)
		return err
	}
	return nil
}

// verifySalvage opens dst as the sidecar would and checks it.
func verifySalvage(dst string, r *Report) error {
	// No background work: the default MaxAge must not expire what was salvaged.
	s, err := openStore(dst, Options{NoBackground: true}, &identity{noMarker: true})
	if err != nil {
		return fmt.Errorf("the salvaged file does not open: %w", err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	c, err := Check(dst)
	if err != nil {
		return err
	}
	if !c.Sound() {
		return fmt.Errorf("the salvaged file is not sound: %s", strings.Join(c.Problems, "; "))
	}
	// The counts are those of the file written.
	r.Topics, r.Dedup, r.Links, r.State = c.Topics, c.Dedup, c.Links, c.State
	return nil
}

// salvageBatch bounds one write transaction of Salvage.
const salvageBatch = 2000

type kv struct{ k, v []byte }

// salvageInto reads every bucket of sdb and writes what decodes into dst.
func salvageInto(sdb *bolt.DB, src, dst string, r *Report) error {
	ddb, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer ddb.Close()

	var names [][]byte
	err = recoverFaults(func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, bytes.Clone(name))
				return nil
			})
		})
	})
	if err != nil {
		r.problem("the list of buckets: %v (nothing could be read)", err)
		return nil
	}
	tails := map[Topic]map[string]uint64{}
	for _, name := range names {
		n := string(name)
		switch {
		case n == string(bktSys), strings.HasPrefix(n, keysPrefix), strings.HasPrefix(n, nextPrefix),
			n == string(bktDedupTimeV2):
			// rebuilt (sys counters, chains) or not kept (format 2's time index)
		case strings.HasPrefix(n, queuePrefix):
			t := Topic(strings.TrimPrefix(n, queuePrefix))
			if tails[t] == nil {
				tails[t] = map[string]uint64{}
			}
			err = salvageSeqBucket(sdb, ddb, src, name, r, func(tx *bolt.Tx, items []kv) error {
				return putMessages(tx, t, items, tails[t], r)
			})
		case strings.HasPrefix(n, deadPrefix):
			t := Topic(strings.TrimPrefix(n, deadPrefix))
			err = salvageSeqBucket(sdb, ddb, src, name, r, func(tx *bolt.Tx, items []kv) error {
				return putDead(tx, t, items, r)
			})
		default:
			err = salvageFlatBucket(sdb, ddb, src, name, r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readSeqRange reads up to salvageBatch entries of bucket name with key ≥ from (a seq).
// It returns them, the next seq to read from, and done when the bucket has no more keys.
// A panic (damaged page) is returned as err.
func readSeqRange(sdb *bolt.DB, src string, name []byte, from uint64) (items []kv, next uint64, done bool, err error) {
	next = from
	err = recoverFaults(func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			if b == nil {
				done = true
				return nil
			}
			c := b.Cursor()
			k, v := c.Seek(u64key(from))
			for ; k != nil && len(items) < salvageBatch; k, v = c.Next() {
				if len(k) != 8 {
					continue
				}
				items = append(items, kv{bytes.Clone(k), bytes.Clone(v)})
				next = seqOf(k) + 1
			}
			done = k == nil
			return nil
		})
	})
	return items, next, done, err
}

// bucketSequence returns the bucket's sequence (0 if unreadable).
func bucketSequence(sdb *bolt.DB, src string, name []byte) uint64 {
	var seq uint64
	_ = recoverFaults(func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(name); b != nil {
				seq = b.Sequence()
			}
			return nil
		})
	})
	return seq
}

// salvageSeqBucket copies a seq-keyed bucket in seq order through put. After a damaged
// page it looks for the first readable seq beyond it (doubling steps, then a binary
// search) up to the bucket's sequence, and reports the seqs it skipped.
func salvageSeqBucket(sdb, ddb *bolt.DB, src string, name []byte, r *Report, put func(*bolt.Tx, []kv) error) error {
	maxSeq := bucketSequence(sdb, src, name)
	from := uint64(0)
	for {
		items, next, done, err := readSeqRange(sdb, src, name, from)
		if len(items) > 0 {
			if werr := ddb.Update(func(tx *bolt.Tx) error { return put(tx, items) }); werr != nil {
				return fmt.Errorf("write %s: %w", name, werr)
			}
		}
		if err == nil {
			if done {
				break
			}
			from = next
			continue
		}
		// A damaged page at or after next: find the first seq that reads again.
		bad := next
		resume, ok := resumeSeq(sdb, src, name, bad, maxSeq)
		if !ok {
			r.problem("%s: seqs from %d on are unreadable (damaged page; the bucket's last seq is %d): %v", name, bad, maxSeq, err)
			break
		}
		r.problem("%s: seqs %d to %d are unreadable (damaged page)", name, bad, resume-1)
		from = resume
	}
	if maxSeq > 0 {
		if err := ddb.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			if b == nil || b.Sequence() >= maxSeq {
				return nil
			}
			return b.SetSequence(maxSeq)
		}); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// seekable reports whether a Seek to seq in bucket name (and one Next) reads without a
// panic.
func seekable(sdb *bolt.DB, src string, name []byte, seq uint64) bool {
	return recoverFaults(func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(name); b != nil {
				c := b.Cursor()
				if k, _ := c.Seek(u64key(seq)); k != nil {
					c.Next()
				}
			}
			return nil
		})
	}) == nil
}

// resumeSeq finds the smallest seq > bad, at most limit (+1), from which the bucket reads
// again.
func resumeSeq(sdb *bolt.DB, src string, name []byte, bad, limit uint64) (uint64, bool) {
	lo, step := bad, uint64(1) // lo: known unreadable
	hi := uint64(0)
	for lo+step <= limit+1 {
		if seekable(sdb, src, name, lo+step) {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	if hi == 0 {
		if limit+1 > lo && seekable(sdb, src, name, limit+1) {
			hi = limit + 1
		} else {
			return 0, false
		}
	}
	for hi-lo > 1 { // lo unreadable, hi readable
		mid := lo + (hi-lo)/2
		if seekable(sdb, src, name, mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// putMessages writes decodable queue records with their seqs and appends them to their
// keys' chains (seq order: per-key order kept); the counters follow.
func putMessages(tx *bolt.Tx, t Topic, items []kv, tails map[string]uint64, r *Report) error {
	if err := createTopicBuckets(tx, t); err != nil {
		return err
	}
	q := tx.Bucket(queueBucket(t))
	q.FillPercent = appendFill
	ch := chain{q: q, next: tx.Bucket(nextBucket(t)), keys: tx.Bucket(keysBucket(t)), w: &wbuf{}, tails: tails}
	tr := r.Topics[t]
	var d counters
	for _, it := range items {
		m, err := decodeMessage(it.v, t, seqOf(it.k))
		if err != nil {
			r.problem("%s seq %d: unreadable record: %v", queueBucket(t), seqOf(it.k), err)
			continue
		}
		if err := q.Put(it.k, it.v); err != nil {
			return err
		}
		created, err := ch.append(m.Key, seqOf(it.k))
		if err != nil {
			return err
		}
		if created {
			tr.Keys++
		}
		tr.Pending++
		tr.Bytes += int64(len(m.Payload))
		d.pending++
		d.bytes += int64(len(m.Payload))
		if seq := seqOf(it.k); seq > q.Sequence() {
			if err := q.SetSequence(seq); err != nil {
				return err
			}
		}
	}
	r.Topics[t] = tr
	c, err := getCounters(tx, t)
	if err != nil {
		return err
	}
	return putCounters(tx, t, c.add(d))
}

// putDead writes decodable dead letters with their seqs.
func putDead(tx *bolt.Tx, t Topic, items []kv, r *Report) error {
	if err := createTopicBuckets(tx, t); err != nil {
		return err
	}
	b := tx.Bucket(deadBucket(t))
	b.FillPercent = appendFill
	tr := r.Topics[t]
	var d counters
	for _, it := range items {
		if _, err := decodeDead(it.v, t, seqOf(it.k)); err != nil {
			r.problem("%s seq %d: unreadable record: %v", deadBucket(t), seqOf(it.k), err)
			continue
		}
		if err := b.Put(it.k, it.v); err != nil {
			return err
		}
		tr.Dead++
		d.dead++
		// Dead letters share the topic's seq space with the queue: a later message must
		// not reuse a dead letter's seq.
		q := tx.Bucket(queueBucket(t))
		if seq := seqOf(it.k); seq > q.Sequence() {
			if err := q.SetSequence(seq); err != nil {
				return err
			}
		}
	}
	r.Topics[t] = tr
	c, err := getCounters(tx, t)
	if err != nil {
		return err
	}
	return putCounters(tx, t, c.add(d))
}

// salvageFlatBucket copies a bucket of plain keys (dedup, links, statuses, kv/*, others)
// as it is. After a damaged page it tries to go on after the last key read (a Seek past
// it); nested buckets are not copied (the outbox has none) and are reported.
func salvageFlatBucket(sdb, ddb *bolt.DB, src string, name []byte, r *Report) error {
	var after []byte // last key read
	for attempt := 0; ; attempt++ {
		var items []kv
		var nested [][]byte
		done := false
		err := recoverFaults(func() error {
			return sdb.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				if b == nil {
					done = true
					return nil
				}
				c := b.Cursor()
				var k, v []byte
				if after == nil {
					k, v = c.First()
				} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
				for ; k != nil && len(items) < salvageBatch; k, v = c.Next() {
					if v == nil {
						nested = append(nested, bytes.Clone(k))
						continue
					}
					items = append(items, kv{bytes.Clone(k), bytes.Clone(v)})
				}
				done = k == nil
				return nil
			})
		})
		for _, k := range nested {
			r.problem("%s/%q: a nested bucket, not copied", name, k)
		}
		if len(items) > 0 {
			werr := ddb.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				for _, it := range items {
					if err := b.Put(it.k, it.v); err != nil {
						return err
					}
				}
				return nil
			})
			if werr != nil {
				return fmt.Errorf("write %s: %w", name, werr)
			}
			after = items[len(items)-1].k
			countFlat(name, len(items), r)
		}
		if err != nil {
			where := "from its first key"
			if after != nil {
				where = fmt.Sprintf("after key %q", after)
			}
			r.problem("%s: entries %s are unreadable (damaged page): %v", name, where, err)
			return nil
		}
		if done {
			return nil
		}
	}
}

func countFlat(name []byte, n int, r *Report) {
	switch string(name) {
	case string(bktDedup):
		r.Dedup += n
	case string(bktLinks):
		r.Links += n
	default:
		r.State += n
	}
}
