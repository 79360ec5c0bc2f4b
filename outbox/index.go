package outbox

import (
	"container/heap"
	"encoding/binary"
	"time"
)

// maxKeyLen bounds a FIFO key (it is a bbolt key in keys/<topic>).
const maxKeyLen = 4096

// topicIndex is the in-memory view of one topic's queue: O(keys with pending messages),
// derived from the file (keys/<topic> at Open) and updated only after the corresponding
// commit. Each key with pending messages is in exactly one of these states:
//
//   - in ready (its head may be delivered now),
//   - in timers (its head waits for NextAttempt),
//   - inflight (its head is with a handler or its outcome is being committed; later
//     messages wait: FIFO per key).
//
// The head itself is not kept in memory: it is read from keys/<topic> when the key is
// handed out.
//
// It also holds the topic's circuit breaker: after transient failures of two different
// keys with no answer in between the destination is considered down and only one message
// (the probe) is handed out at a time, at capped exponential intervals, until one succeeds.
// One key failing again and again is that key's problem (its own backoff, then the poison
// rule of Options.MaxAttempts), not the destination's: it does not open the breaker.
//
// All fields are guarded by Store.mu.
type topicIndex struct {
	topic      Topic
	keys       map[string]*keyState
	ready      []*keyState // FIFO of keys whose head is deliverable
	timers     timerHeap
	pending    int   // messages in the queue bucket
	bytes      int64 // their payload bytes
	dead       int   // dead letters
	wake       chan struct{}
	delivering bool // a Deliver call runs for this topic

	brOpen     bool      // destination considered down
	brFailures int       // consecutive failed probes (for the backoff)
	brNext     time.Time // when the next probe may go (wall clock)
	brProbe    bool      // a probe is with a handler
	// While closed: a transient failure was seen since the last answer, from brFailKey.
	brFailing bool
	brFailKey string

	// okStart is when (Options.Now) the latest handler call that returned nil started:
	// the destination accepted a message after that instant. In memory only; the strikes
	// it gives (Message.Strikes) are on disk.
	okStart time.Time
	givenUp int // heads given up by the poison rule since Open
}

type keyState struct {
	key       string
	count     int // 1: the key has pending messages, 0: none (its state is being dropped)
	notBefore time.Time
	inflight  bool
	queued    bool // in ready or timers
	// failures: failed attempts of the key's head (from its record at Open, then as last
	// seen by Deliver). The breaker's probe prefers keys whose head has none; an urgent
	// message queued behind a head with UrgentAttempts of them wakes it.
	failures int
	// urgentPoke: an urgent message was queued behind the head while it was in flight: its
	// release makes the key due at once, so the urgent rule is checked without waiting for
	// the head's backoff.
	urgentPoke bool
}

func newTopicIndex(t Topic) *topicIndex {
	return &topicIndex{topic: t, keys: map[string]*keyState{}, wake: make(chan struct{}, 1)}
}

func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// addCount records, after a commit, that key got its first pending message (delta > 0:
// it is scheduled, at notBefore when it is new to the index) or lost its last one
// (delta < 0).
func (ti *topicIndex) addCount(key string, delta int, notBefore, now time.Time) {
	ks := ti.keys[key]
	if ks == nil {
		if delta <= 0 {
			return
		}
		ks = &keyState{key: key, notBefore: notBefore}
		ti.keys[key] = ks
	}
	if delta < 0 {
		ks.count = 0
		if !ks.inflight && !ks.queued {
			delete(ti.keys, key)
		}
		return
	}
	ks.count = 1
	ti.schedule(ks, now)
}

// rearm is called after a commit that gave key a head never attempted (its first pending
// message, EnqueueLatest replaced the head, or the sweep expired it): a wait for the NextAttempt of an earlier
// head (a retry backoff, left on a key state that was waiting in timers when that head was
// replaced, expired or dead-lettered) no longer applies. The waiting entry is left in timers
// as a stale one (next skips it) and a fresh state of the key is made ready. It reports
// whether it did so.
func (ti *topicIndex) rearm(key string, now time.Time) bool {
	ks := ti.keys[key]
	if ks == nil || ks.count == 0 || ks.inflight || !ks.queued || !ks.notBefore.After(now) {
		return false // ready, in flight (its release schedules it) or not waiting
	}
	fresh := &keyState{key: key, count: 1}
	ti.keys[key] = fresh
	ti.schedule(fresh, now)
	return true
}

func (ti *topicIndex) schedule(ks *keyState, now time.Time) {
	if ks.queued || ks.inflight || ks.count == 0 {
		return
	}
	ks.queued = true
	if ks.notBefore.After(now) {
		heap.Push(&ti.timers, ks)
		return
	}
	ti.ready = append(ti.ready, ks)
}

// next hands out the first ready key (moving due timers to ready first) and marks it in
// flight. probe reports that the breaker is open and this is its one probe. wait is the
// delay until something may become deliverable when nothing is (0 = wait for a wake-up).
// now is Options.Now (message times); real is the wall clock of the breaker (in memory
// only, so it runs on real time even when tests fake the clock).
func (ti *topicIndex) next(now, real time.Time) (ks *keyState, probe bool, wait time.Duration) {
	for len(ti.timers) > 0 && !ti.timers[0].notBefore.After(now) {
		k := heap.Pop(&ti.timers).(*keyState)
		ti.ready = append(ti.ready, k)
	}
	if ti.brOpen {
		if ti.brProbe {
			return nil, false, 0 // the probe's outcome wakes us
		}
		if ti.brNext.After(real) {
			wait := ti.brNext.Sub(real)
			if len(ti.ready) == 0 && len(ti.timers) > 0 {
				wait = max(wait, ti.timers[0].notBefore.Sub(now))
			}
			return nil, false, max(wait, time.Millisecond)
		}
	}
	for len(ti.ready) > 0 {
		k := ti.ready[0]
		if ti.live(k) {
			break
		}
		ti.ready[0] = nil
		ti.ready = ti.ready[1:]
		k.queued = false
		if ti.keys[k.key] == k && !k.inflight {
			delete(ti.keys, k.key)
		}
	}
	if len(ti.ready) > 0 {
		i := 0
		if ti.brOpen {
			i = ti.probeIndex()
		}
		k := ti.ready[i]
		if i == 0 {
			ti.ready[0] = nil
			ti.ready = ti.ready[1:]
		} else {
			n := len(ti.ready)
			copy(ti.ready[i:], ti.ready[i+1:])
			ti.ready[n-1] = nil
			ti.ready = ti.ready[:n-1]
		}
		k.queued = false
		k.inflight = true
		if ti.brOpen {
			ti.brProbe = true
			probe = true
		}
		return k, probe, 0
	}
	if len(ti.timers) > 0 {
		wait = max(ti.timers[0].notBefore.Sub(now), time.Millisecond)
	}
	return nil, false, wait
}

// live reports whether a ready entry is the current state of a key with pending messages
// (else it is stale: skipped and dropped).
func (ti *topicIndex) live(k *keyState) bool { return k.count > 0 && ti.keys[k.key] == k }

// probeIndex picks the breaker's probe among the ready keys: the first whose head has no
// failed attempt (the ready list is FIFO, so this goes round-robin), else the first one. A
// key that keeps failing thus does not take the probes while others are waiting. O(ready),
// once per probe.
func (ti *topicIndex) probeIndex() int {
	for i, k := range ti.ready {
		if k.failures == 0 && ti.live(k) {
			return i
		}
	}
	return 0
}

// release ends a key's in-flight state; its (new) head is due at notBefore and has
// `failures` failed attempts (< 0: unchanged).
func (ti *topicIndex) release(key string, notBefore, now time.Time, failures int) {
	ks := ti.keys[key]
	if ks == nil {
		return
	}
	ks.inflight = false
	ks.notBefore = notBefore
	if failures >= 0 {
		ks.failures = failures
	}
	if ks.urgentPoke {
		ks.urgentPoke = false
		ks.notBefore = time.Time{}
	}
	if ks.count == 0 {
		if !ks.queued {
			delete(ti.keys, key)
		}
		return
	}
	ti.schedule(ks, now)
}

// urgentQueued is called after an urgent message was committed behind key's head: if that
// head is waiting for a retry after at least urgentAttempts failures, the key is made due
// now (a fresh state; the waiting entry in timers becomes stale), so Deliver checks the
// urgent rule at once; if it is in flight, its release does the same. It reports whether
// the key was made ready.
func (ti *topicIndex) urgentQueued(key string, now time.Time, urgentAttempts int) bool {
	ks := ti.keys[key]
	if ks == nil || ks.count == 0 {
		return false
	}
	if ks.inflight {
		ks.urgentPoke = true
		return false
	}
	if ks.failures < urgentAttempts || !ks.queued || !ks.notBefore.After(now) {
		return false
	}
	fresh := &keyState{key: key, count: 1, failures: ks.failures}
	ti.keys[key] = fresh
	ti.schedule(fresh, now)
	return true
}

// acceptedSince reports whether the destination accepted a message whose handler call
// started after t.
func (ti *topicIndex) acceptedSince(t time.Time) bool { return ti.okStart.After(t) }

// outcome kinds for the breaker.
type brOutcome uint8

const (
	brAccepted brOutcome = iota // success: the destination accepted the message
	brReached                   // the destination answered with a permanent error
	brDown                      // transient error: maybe the destination is down
	brNoAnswer                  // no answer (not due, cancelled, unreadable): neutral
)

// record updates the breaker with the outcome of key's handler. delay is the next probe's
// delay when the breaker opens or a probe failed. It reports whether the breaker closed.
//
// While closed, a transient failure opens it only if another key failed transiently since
// the last answer (success or permanent error): failures across the destination, not one
// key's repeated ones.
func (ti *topicIndex) record(probe bool, key string, o brOutcome, now time.Time, delay func(failures int) time.Duration) (closed bool) {
	if probe {
		ti.brProbe = false
	}
	switch o {
	case brAccepted, brReached:
		ti.brFailing, ti.brFailKey = false, ""
		if ti.brOpen {
			ti.brOpen, ti.brFailures, ti.brNext = false, 0, time.Time{}
			return true
		}
	case brDown:
		switch {
		case ti.brOpen:
			if probe {
				ti.brFailures++
				ti.brNext = now.Add(delay(ti.brFailures))
			}
		case !ti.brFailing || ti.brFailKey == key:
			ti.brFailing, ti.brFailKey = true, key
		default:
			ti.brFailing, ti.brFailKey = false, ""
			ti.brOpen = true
			ti.brFailures = 1
			ti.brNext = now.Add(delay(ti.brFailures))
		}
	}
	return false
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
