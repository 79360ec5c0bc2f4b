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
	out := make([]Change, len(recs))
	one := func(i int) {
		res, err := m.Map(recs[i])
		switch {
		case err != nil:
			id, _ := m.IncidentID(recs[i])
			out[i] = Change{Outcome: Failed, IncidentID: id, Err: err}
		case res.Filtered:
			id, _ := m.IncidentID(recs[i])
			out[i] = Change{Outcome: Filtered, IncidentID: id, Reason: res.Reason}
		default:
			h := mapping.Hash(res.Request)
			c := Change{Outcome: Queue, IncidentID: res.Request.IncidentID, Request: res.Request, Hash: h}
			if known(c.IncidentID) == h {
				c.Outcome, c.Request = Unchanged, assist.LinkIncidentRequest{}
			}
			out[i] = c
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if len(recs) < minParallel || workers == 1 {
		for i := range recs {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(recs) + workers - 1) / workers
	for lo := 0; lo < len(recs); lo += chunk {
		hi := min(lo+chunk, len(recs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				one(i)
			}
		})
	}
	wg.Wait()
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
