package sidecar

import (
	"runtime"
	"sync"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// Outcome is what a poll does with one record.
type Outcome int

// Outcomes of Detect.
const (
	Queue     Outcome = iota // new or changed: queue a link
	Unchanged                // same content as the last link queued
	Filtered                 // the filter dropped it
	Failed                   // the mapping cannot handle it
)

// Change is the outcome of mapping one polled record.
type Change struct {
	Outcome    Outcome
	IncidentID string
	Request    assist.LinkIncidentRequest // for Queue
	Hash       string                     // for Queue and Unchanged
	Reason     string                     // for Filtered
	Err        error                      // for Failed
}

// minParallel is the batch size from which Detect spreads the work over the cores.
const minParallel = 256

// Detect maps every record of a poll and compares each incident's content hash with
// known(incidentId) — the hash of the last link queued for it, "" if none. It uses every
// core for large batches (a Mapper is safe for concurrent use) and returns the changes in
// record order. known must be safe for concurrent use.
func Detect(m *mapping.Mapper, recs []adapters.Record, known func(incidentID string) string) []Change {
	return DetectWith(m, recs, known, nil)
}

// DetectWith is Detect with a Memo (nil: none) that skips mapping the records that are
// exactly as they were when it last mapped them (see Memo): a steady-state poll, which
// reads the same rows again and again, costs a fingerprint per record instead of a
// mapping. The outcome is the same as Detect's; only the Request of an Unchanged record,
// which Detect leaves empty too, is not computed. With a mapping that is not pure
// (mapping.Mapper.Pure) the memo is not used.
func DetectWith(m *mapping.Mapper, recs []adapters.Record, known func(incidentID string) string, memo *Memo) []Change {
	out := make([]Change, len(recs))
	if memo != nil && !m.Pure() {
		memo = nil
	}
	var (
		seen    map[string]memoEntry // the memo's entries, read-only while the workers run
		release func()
	)
	if memo != nil {
		seen, release = memo.view(m)
	}
	one := func(i int, fe *fpEncoder) {
		var (
			id  string
			fp  fingerprint
			fok bool
		)
		if memo != nil {
			var idOK bool
			if id, idOK = m.IncidentID(recs[i]); idOK {
				fp, fok = fe.fingerprint(recs[i])
			}
			if fok {
				if e, ok := seen[id]; ok && e.fp == fp {
					switch {
					case e.filtered:
						out[i] = Change{Outcome: Filtered, IncidentID: id, Reason: e.reason}
						return
					case known(id) == e.hash:
						out[i] = Change{Outcome: Unchanged, IncidentID: id, Hash: e.hash}
						return
					}
				}
			}
		}
		res, err := m.Map(recs[i])
		switch {
		case err != nil:
			id, _ := m.IncidentID(recs[i])
			out[i] = Change{Outcome: Failed, IncidentID: id, Err: err}
		case res.Filtered:
			id, _ := m.IncidentID(recs[i])
			out[i] = Change{Outcome: Filtered, IncidentID: id, Reason: res.Reason}
			if fok && id != "" {
				fe.remember(id, memoEntry{fp: fp, filtered: true, reason: res.Reason})
			}
		default:
			h := mapping.Hash(res.Request)
			c := Change{Outcome: Queue, IncidentID: res.Request.IncidentID, Request: res.Request, Hash: h}
			if known(c.IncidentID) == h {
				c.Outcome, c.Request = Unchanged, assist.LinkIncidentRequest{}
			}
			out[i] = c
			if fok && id == c.IncidentID {
				fe.remember(id, memoEntry{fp: fp, hash: h})
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var encs []*fpEncoder // one per goroutine, with what it maps to remember
	if len(recs) < minParallel || workers == 1 {
		fe := &fpEncoder{}
		encs = append(encs, fe)
		for i := range recs {
			one(i, fe)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(recs) + workers - 1) / workers
		for lo := 0; lo < len(recs); lo += chunk {
			hi := min(lo+chunk, len(recs))
			fe := &fpEncoder{}
			encs = append(encs, fe)
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					one(i, fe)
				}
			})
		}
		wg.Wait()
	}
	if memo != nil {
		release()
		for _, fe := range encs { // in record order: a later record of an incident wins
			if len(fe.ids) > 0 {
				memo.store(m, fe.ids, fe.es)
			}
		}
	}
	return out
}

// hashCache keeps the content hash of each incident's last queued link in memory, in
// front of the store's "hash" bucket, so that a poll compares without a disk read per
// record. Writes go to the store first.
type hashCache struct {
	mu sync.RWMutex
	m  map[string]string
}

func (c *hashCache) get(id string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.m[id]
	return h, ok
}

// maxCachedHashes bounds the cache: past it, it starts over (it is only a cache; the
// store has every hash), so incidents seen once and never linked cannot grow it for years.
const maxCachedHashes = 200_000

func (c *hashCache) set(id, h string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedHashes {
		c.m = map[string]string{}
	}
	c.m[id] = h
}

func (c *hashCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
