package outbox

import (
	"container/heap"
	"encoding/binary"
	"time"
)

// topicIndex is the in-memory view of one topic's queue, derived from the file (rebuilt at
// Open) and updated only after the corresponding commit. It lets delivery find the next
// deliverable message without scanning: each key with pending messages is in exactly one of
// these states:
//
//   - in ready (its head may be delivered now),
//   - in timers (its head waits for NextAttempt),
//   - inflight (its head is with a handler; later messages wait: FIFO per key).
//
// All fields are guarded by Store.mu.
type topicIndex struct {
	keys       map[string]*keyState
	ready      []*keyState // FIFO of keys whose head is deliverable
	timers     timerHeap
	pending    int           // messages in the queue bucket
	wake       chan struct{} // poked (non-blocking) when a key may have become ready
	delivering bool          // a Deliver call runs for this topic
}

type keyState struct {
	key       string
	seqs      []uint64 // pending seqs of this key, ascending; seqs[0] is the head
	notBefore time.Time
	inflight  bool
	queued    bool // in ready or timers
}

func newTopicIndex() *topicIndex {
	return &topicIndex{keys: map[string]*keyState{}, wake: make(chan struct{}, 1)}
}

func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// add appends seq to key's FIFO (seqs are handed out ascending by the single writer).
func (ti *topicIndex) add(key []byte, seq uint64, notBefore, now time.Time) {
	ks := ti.keys[string(key)]
	if ks == nil {
		ks = &keyState{key: string(key)}
		ti.keys[ks.key] = ks
	}
	ks.seqs = append(ks.seqs, seq)
	if len(ks.seqs) == 1 && !ks.inflight {
		ks.notBefore = notBefore
		ti.schedule(ks, now)
	}
}

func (ti *topicIndex) schedule(ks *keyState, now time.Time) {
	if ks.queued || ks.inflight || len(ks.seqs) == 0 {
		return
	}
	ks.queued = true
	if ks.notBefore.After(now) {
		heap.Push(&ti.timers, ks)
		return
	}
	ti.ready = append(ti.ready, ks)
}

// next hands out the head of the first ready key (moving due timers to ready first) and
// marks the key in flight. wait is the delay until the earliest timer when nothing is ready
// (0 = no timer).
func (ti *topicIndex) next(now time.Time) (key string, seq uint64, ok bool, wait time.Duration) {
	for len(ti.timers) > 0 && !ti.timers[0].notBefore.After(now) {
		ks := heap.Pop(&ti.timers).(*keyState)
		ti.ready = append(ti.ready, ks)
	}
	if len(ti.ready) == 0 {
		if len(ti.timers) > 0 {
			wait = max(ti.timers[0].notBefore.Sub(now), time.Millisecond)
		}
		return "", 0, false, wait
	}
	ks := ti.ready[0]
	ti.ready[0] = nil
	ti.ready = ti.ready[1:]
	ks.queued = false
	ks.inflight = true
	return ks.key, ks.seqs[0], true, 0
}

// release ends a key's in-flight state. removed: its head was deleted or dead-lettered.
// Otherwise the head stays and is due again at notBefore.
func (ti *topicIndex) release(key string, removed bool, notBefore, now time.Time) {
	ks := ti.keys[key]
	if ks == nil {
		return
	}
	ks.inflight = false
	ks.notBefore = notBefore
	if removed && len(ks.seqs) > 0 {
		ks.seqs = ks.seqs[1:]
		ks.notBefore = time.Time{}
	}
	if len(ks.seqs) == 0 {
		delete(ti.keys, key)
		return
	}
	ti.schedule(ks, now)
}

func (ti *topicIndex) poke() {
	select {
	case ti.wake <- struct{}{}:
	default:
	}
}

// timerHeap orders waiting keys by notBefore.
type timerHeap []*keyState

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].notBefore.Before(h[j].notBefore) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(*keyState)) }
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	ks := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return ks
}
