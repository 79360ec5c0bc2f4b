package outbox

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The writer goroutine owns every queue mutation (enqueue, ack, retry, dead letter, expiry,
// replay, drop). Callers append their request to an unbounded in-memory list and wait. The
// writer takes everything that is waiting (up to maxBatch requests / maxBatchBytes of
// records per transaction), applies it in order in ONE bbolt transaction and fsyncs once
// (group commit). There is no fixed delay: a lone request commits at once, and every
// request that arrives while a commit is in flight goes into the next one, so under load
// the batch grows with the number of waiting callers. Each caller is answered after the
// commit (fsynced), with its own outcome. The one wait is adaptive (see gather): after a
// commit of n > 1 requests the writer yields until n requests are queued again, for at most
// a quarter of the last commit's duration (≤ 250µs), so that callers it just answered and
// that come straight back share the next commit instead of forming a second, alternating
// half-size batch; a lone request never waits.
//
// Callers encode their record before handing it over; sequence numbers come from the
// bucket sequence (kept in the bucket header: no read), idempotency keys are checked
// against the file in the transaction (that is the source of truth).
//
// If the transaction fails, each request of the batch is retried in a transaction of its
// own, so one bad request cannot fail the others.
//
// A transaction that fails for lack of disk space fails every request of the batch with
// ErrNoSpace, except the outcomes of deliveries (acks, dead letters): the destination has
// already answered, and failing them would hand the message out again at once (the CAD
// would get the same note every RetryInitial while the disk is full). They are held by the
// writer and committed again every noSpaceProbeEvery until they succeed; their key stays
// in flight meanwhile. When the Deliver whose handler produced them is done (its ctx
// cancelled: shutdown) or at Close they are given up: answered with ErrNoSpace, the
// messages stay pending and are delivered again after the restart (at-least-once), so a
// shutdown never waits for disk space.

// appendFill is the FillPercent of buckets whose keys are mostly appended (seq, time).
const appendFill = 0.9

const (
	maxBatch      = 8192
	maxBatchBytes = 32 << 20
)

type opKind uint8

const (
	opEnqueue opKind = iota
	opAck
	opRetry
	opDead
	opReplay
	opDrop
	opExpire
	opJournal // AppendJournal: entries of a journal (journal.go); no queue effect
	opBatch
	opPutLink
)

func (k opKind) String() string {
	return [...]string{"enqueue", "ack", "retry", "dead-letter", "replay", "drop", "expire", "journal", "enqueue-batch", "put-link"}[k]
}

type writeReq struct {
	kind   opKind
	topic  Topic
	key    string
	rec    []byte // opEnqueue: the encoded record (built by the caller)
	payLen int    // opEnqueue: payload length
	latest bool   // opEnqueue: replace the key's pending messages not in flight
	dedup  []string
	seq    uint64
	msg    Message // opRetry/opDead: the delivery bookkeeping fields to store
	reason string  // opDead
	// evidence is the destination's answer kept with a dead letter (opDead; see DeadLetter).
	evidence string
	journal  *journalReq // opJournal
	// stop (opAck/opDead of a handler) is its Deliver's Done channel: once it is closed the
	// outcome is no longer held on a full disk (nil: held until Close).
	stop <-chan struct{}
	// opBatch (EnqueueLatestBatch, batch.go): its messages, the state written after them,
	// and the encoded bytes of the messages (for the writer's transaction size).
	items      []batchItem
	state      []StatePut
	batchBytes int
	// opPutLink (PutLink, state.go), or an opAck withLink (PutLinkWithAck, acklink.go):
	// the link; freed is set to the unlinked bytes it freed.
	link     Link
	withLink bool
	freed    int64

	// outcome, set by the writer before done is signalled
	added    bool
	replaced int   // opEnqueue latest: how many older messages were replaced
	err      error // per-request outcome (ErrFull, ErrNotFound, commit error)
	done     chan struct{}

	// effects on the in-memory state, applied after the commit
	effKey   string
	keyDelta int  // +1: the key got its first pending message; -1: its last one left
	newHead  bool // the key's head was replaced or expired: its new head was never attempted
	delta    counters
	effs     []effect // opBatch: one effect per item, like effKey/keyDelta/newHead
}

func (r *writeReq) reset() {
	r.added, r.replaced, r.err = false, 0, nil
	r.effKey, r.keyDelta, r.newHead, r.delta = "", 0, false, counters{}
	r.effs = r.effs[:0]
	r.freed = 0
	for i := range r.items {
		r.items[i].replaced = false
	}
}

var reqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan struct{}, 1)} }}

func getReq() *writeReq { return reqPool.Get().(*writeReq) }

func putReq(r *writeReq) {
	done, rec := r.done, r.rec[:0]
	*r = writeReq{done: done, rec: rec}
	if cap(rec) > 64<<10 {
		r.rec = nil
	}
	reqPool.Put(r)
}

// writeQueue is the unbounded hand-off list between callers and the writer.
type writeQueue struct {
	mu      sync.Mutex
	reqs    []*writeReq
	stopped bool
	signal  chan struct{} // capacity 1: "there is something"
}

// push hands r to the writer; false if the writer has stopped.
func (q *writeQueue) push(rs ...*writeReq) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.reqs = append(q.reqs, rs...)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return true
}

// poke wakes the writer with nothing to do but look at its held outcomes.
func (q *writeQueue) poke() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *writeQueue) take(spare []*writeReq, stop bool) []*writeReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	got := q.reqs
	q.reqs = spare[:0]
	if stop {
		q.stopped = true
	}
	return got
}

func (s *Store) writer() {
	defer s.writerWG.Done()
	var (
		spare   []*writeReq
		lastN   int
		lastDur time.Duration
		retryC  <-chan time.Time
	)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	w := &wbuf{}
	for {
		stop, retryNow := false, false
		var closing <-chan struct{}
		if len(s.held) > 0 {
			closing = s.closeCtx.Done()
			if retryC == nil {
				retry.Reset(noSpaceProbeEvery)
				retryC = retry.C
			}
		}
		select {
		case <-s.wq.signal:
		case <-s.stopWriter:
			stop = true
		case <-retryC:
			retryC, retryNow = nil, true
		case <-closing:
		}
		if len(s.held) > 0 {
			s.releaseStopped()
		}
		if len(s.held) > 0 {
			switch {
			case s.closeCtx.Err() != nil:
				s.releaseHeld()
			case retryNow:
				held := s.held
				s.held = nil
				s.commit(held, w) // holds them again if the disk is still full
				s.heldN.Store(int32(len(s.held)))
			}
		}
		if !stop && lastN > 1 {
			s.gather(lastN, lastDur)
		}
		all := s.wq.take(spare, stop)
		if len(all) > 0 { // (a stale signal finds nothing: keep the last figures)
			lastN = len(all)
			start := time.Now()
			for batch := all; len(batch) > 0; {
				n, size := 0, 0
				for n < len(batch) && n < maxBatch && size < maxBatchBytes {
					size += len(batch[n].rec) + batch[n].batchBytes
					n++
				}
				s.commit(batch[:n], w)
				batch = batch[n:]
			}
			lastDur = time.Since(start)
		}
		clear(all)
		spare = all[:0]
		if stop {
			s.releaseHeld()
			return
		}
	}
}

// releaseHeld answers the held delivery outcomes with their error (Close: the messages
// stay pending and are delivered again after the restart).
func (s *Store) releaseHeld() {
	for _, r := range s.held {
		r.done <- struct{}{}
	}
	s.held = nil
	s.heldN.Store(0)
}

// releaseStopped answers, with their error, the held outcomes whose Deliver is done (its
// ctx cancelled): their messages stay pending; the others stay held.
func (s *Store) releaseStopped() {
	kept := s.held[:0]
	for _, r := range s.held {
		if isDone(r.stop) {
			r.done <- struct{}{}
			continue
		}
		kept = append(kept, r)
	}
	clear(s.held[len(kept):])
	s.held = kept
	s.heldN.Store(int32(len(s.held)))
}

// isDone reports whether c (a Done channel; nil: never) is closed.
func isDone(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// gather lets the callers just answered by a commit of n requests come back before the
// next commit starts, so that closed-loop producers do not split into two alternating
// half-size cohorts (one committing, one waiting). It waits only while fewer than n
// requests are queued, at most a quarter of the last commit's duration (≤ 250µs), yielding
// the processor meanwhile; a lone request (n == 1) never waits.
func (s *Store) gather(n int, last time.Duration) {
	deadline := time.Now().Add(min(last/4, 250*time.Microsecond))
	for {
		s.wq.mu.Lock()
		queued := len(s.wq.reqs)
		s.wq.mu.Unlock()
		if queued >= n || !time.Now().Before(deadline) {
			return
		}
		runtime.Gosched()
	}
}

// wbuf hands out key buffers that bbolt may keep until the commit; reused after it.
type wbuf struct{ b []byte }

func (w *wbuf) reset() { w.b = w.b[:0] }

func (w *wbuf) take(n int) []byte {
	if cap(w.b)-len(w.b) < n {
		w.b = make([]byte, 0, max(256<<10, 2*n))
	}
	l := len(w.b)
	w.b = w.b[:l+n]
	return w.b[l : l : l+n]
}

func (w *wbuf) seqKey(seq uint64) []byte {
	b := w.take(8)
	return append(b, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

func (s *Store) commit(batch []*writeReq, w *wbuf) {
	s.mu.Lock()
	pending := s.pendingBytes
	s.mu.Unlock()
	now := s.opts.Now()
	w.reset()
	err := safely(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if f := s.failWrite.Load(); f != nil {
				if err := (*f)(); err != nil {
					return err
				}
			}
			cur := pending
			touched := map[Topic]counters{}
			for _, r := range batch {
				r.reset()
				if err := s.apply(tx, r, now, &cur, w); err != nil {
					return fmt.Errorf("%s %s seq %d: %w", r.kind, r.topic, r.seq, err)
				}
				if r.err == nil && r.delta != (counters{}) {
					touched[r.topic] = touched[r.topic].add(r.delta)
				}
			}
			for t, d := range touched {
				if d == (counters{}) {
					continue
				}
				c, err := getCounters(tx, t)
				if err != nil {
					return err
				}
				if err := putCounters(tx, t, c.add(d)); err != nil {
					return err
				}
			}
			return nil
		})
	})
	s.commits.Add(1)
	if err != nil {
		// The cache may hold tails of the rolled-back transaction: rebuild it from the file.
		clear(s.tails)
	}
	if err != nil && (isNoSpace(err) || errors.Is(err, ErrCorrupt)) {
		// Not the fault of one request: retrying them one by one would only repeat it.
		err = s.storeErr(err)
		for _, r := range batch {
			r.reset()
			r.err = fmt.Errorf("outbox: commit: %w", err)
			if errors.Is(err, ErrNoSpace) && (r.kind == opAck || r.kind == opDead) && s.closeCtx.Err() == nil && !isDone(r.stop) {
				s.held = append(s.held, r) // answered when a later try commits it, or at Close
				continue
			}
			r.done <- struct{}{}
		}
		s.heldN.Store(int32(len(s.held)))
		return
	}
	if err == nil {
		s.wrote()
	}
	if err != nil && len(batch) > 1 {
		s.log.Warn("outbox batch commit failed; retrying its requests one by one", "requests", len(batch), "err", err)
		for _, r := range batch {
			s.commit([]*writeReq{r}, w)
		}
		return
	}
	if err != nil {
		r := batch[0]
		r.reset()
		r.err = fmt.Errorf("outbox: commit: %w", err)
		s.log.Error("outbox commit failed", "op", r.kind.String(), "topic", string(r.topic), "key", r.key, "seq", r.seq, "err", err)
		r.done <- struct{}{}
		return
	}
	var poke []*topicIndex
	s.mu.Lock()
	for _, r := range batch {
		if r.err != nil || r.kind == opJournal || r.kind == opPutLink {
			continue
		}
		ti := s.topicLocked(r.topic)
		s.pendingBytes += r.delta.bytes
		ti.bytes += r.delta.bytes
		ti.pending += int(r.delta.pending)
		ti.dead += int(r.delta.dead)
		poke = applyEffect(ti, effect{r.effKey, r.keyDelta, r.newHead}, now, poke)
		for _, e := range r.effs {
			poke = applyEffect(ti, e, now, poke)
		}
	}
	s.mu.Unlock()
	for _, ti := range poke {
		ti.poke()
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
}

// applyEffect applies one committed change of a key to the in-memory index of its topic
// (s.mu held) and adds ti to poke when its deliverers should look again.
func applyEffect(ti *topicIndex, e effect, now time.Time, poke []*topicIndex) []*topicIndex {
	if e.keyDelta != 0 {
		ti.addCount(e.key, e.keyDelta, time.Time{}, now)
		if e.keyDelta > 0 && (len(poke) == 0 || poke[len(poke)-1] != ti) {
			poke = append(poke, ti)
		}
	}
	if e.keyDelta > 0 || e.newHead {
		if ti.rearm(e.key, now) && (len(poke) == 0 || poke[len(poke)-1] != ti) {
			poke = append(poke, ti)
		}
	}
	return poke
}

// apply performs one request inside the batch transaction. Outcomes that are the
// request's own business (duplicate, full, not found) are recorded in r and return nil; a
// returned error aborts the transaction. cur is the running pending-bytes total.
func (s *Store) apply(tx *bolt.Tx, r *writeReq, now time.Time, cur *int64, w *wbuf) error {
	if r.kind == opJournal {
		return applyJournal(tx, r.journal, now)
	}
	if r.kind == opPutLink { // state, not a queue: no topic
		return applyPutLink(tx, r, now)
	}
	if r.withLink { // the handler's link, stored whatever becomes of the ack (already gone)
		if err := applyPutLink(tx, r, now); err != nil {
			return err
		}
	}
	q := tx.Bucket(queueBucket(r.topic))
	if q == nil {
		if err := createTopicBuckets(tx, r.topic); err != nil {
			return err
		}
		q = tx.Bucket(queueBucket(r.topic))
	}
	dead, next, keys := tx.Bucket(deadBucket(r.topic)), tx.Bucket(nextBucket(r.topic)), tx.Bucket(keysBucket(r.topic))
	if dead == nil || next == nil || keys == nil {
		return fmt.Errorf("topic %q: missing buckets: %w", r.topic, errCorrupt)
	}
	// Seq-keyed buckets grow at the end: fill their pages (bbolt splits at 50% by default).
	q.FillPercent, dead.FillPercent, next.FillPercent = appendFill, appendFill, appendFill
	ch := chain{q: q, next: next, keys: keys, w: w, tails: s.tailsOf(r.topic)}
	switch r.kind {
	case opBatch:
		if err := s.applyBatch(tx, ch, r, cur, w); err != nil {
			return err
		}
	case opEnqueue:
		// One read per idempotency key: seen (duplicate) or not (never, or expired).
		for _, k := range r.dedup {
			if s.dedupSeen(tx, k, now, w) {
				return nil // duplicate: added stays false
			}
		}
		if *cur >= s.opts.MaxBytes {
			r.err = ErrFull
			return nil
		}
		existed := false
		if r.latest {
			keepHead := s.isInflight(r.topic, r.key)
			n, bytes, had, _, err := ch.truncate(r.key, keepHead)
			if err != nil {
				return err
			}
			existed = had
			r.newHead = had && !keepHead
			r.replaced = n
			r.delta.pending -= int64(n)
			r.delta.bytes -= bytes
		}
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		if err := q.Put(w.seqKey(seq), r.rec); err != nil {
			return err
		}
		created, err := ch.append(r.key, seq)
		if err != nil {
			return err
		}
		for _, k := range r.dedup {
			if err := recordDedup(tx, k, now, w); err != nil {
				return err
			}
		}
		r.added, r.effKey = true, r.key
		if created && !existed {
			r.keyDelta = 1
		}
		r.delta.pending++
		r.delta.bytes += int64(r.payLen)

	case opAck, opRetry, opDead, opExpire:
		k := w.seqKey(r.seq)
		v := q.Get(k)
		if v == nil {
			r.err = ErrNotFound
			return nil
		}
		if r.kind == opAck { // only key and size are needed: no payload copy
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			key := string(h.key)
			emptied, err := removeQueued(ch, k, key, r.seq)
			if err != nil {
				return err
			}
			r.effKey, r.keyDelta = key, emptiedDelta(emptied)
			r.delta = counters{pending: -1, bytes: -int64(h.payloadLen)}
			break
		}
		m, err := decodeMessage(v, r.topic, r.seq)
		if err != nil {
			return err
		}
		switch r.kind {
		case opRetry:
			copyBookkeeping(&m, &r.msg)
			if err := q.Put(k, encodeMessage(&m)); err != nil {
				return err
			}
		case opDead, opExpire:
			reason := r.reason
			if r.kind == opDead {
				copyBookkeeping(&m, &r.msg)
			} else {
				if age := now.Sub(ageBase(&m)); age <= s.opts.MaxAge {
					r.err = ErrNotFound // not expired (any more): nothing to do
					return nil
				}
				if s.isInflightHead(keys, r.topic, m.Key, r.seq) {
					r.err = ErrNotFound // with a handler: its outcome decides
					return nil
				}
				reason = expiredReason(&m, now)
			}
			wasHead := false
			if r.kind == opExpire {
				h, ok, err := headOf(keys, []byte(m.Key))
				if err != nil {
					return err
				}
				wasHead = ok && h == r.seq
			}
			d := DeadLetter{Message: m, Reason: reason, DeadAt: now}
			if r.kind == opDead {
				d.Evidence = r.evidence
			}
			if err := dead.Put(k, encodeDead(&d)); err != nil {
				return err
			}
			emptied, err := removeQueued(ch, k, m.Key, r.seq)
			if err != nil {
				return err
			}
			r.effKey, r.keyDelta = m.Key, emptiedDelta(emptied)
			// The message behind an expired head was never attempted (only heads are).
			r.newHead = wasHead && !emptied
			r.delta = counters{pending: -1, bytes: -int64(len(m.Payload)), dead: 1}
		}

	case opReplay, opDrop:
		k := w.seqKey(r.seq)
		v := dead.Get(k)
		if v == nil {
			r.err = ErrNotFound
			return nil
		}
		if r.kind == opReplay {
			d, err := decodeDead(v, r.topic, r.seq)
			if err != nil {
				return err
			}
			m := d.Message
			m.Attempts, m.NextAttempt, m.FirstErrorAt, m.LastErrorAt, m.LastError = 0, time.Time{}, time.Time{}, time.Time{}, ""
			m.ReplayedAt = now
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if err := q.Put(w.seqKey(seq), encodeMessage(&m)); err != nil {
				return err
			}
			created, err := ch.append(m.Key, seq)
			if err != nil {
				return err
			}
			r.effKey = m.Key
			if created {
				r.keyDelta = 1
			}
			r.delta = counters{pending: 1, bytes: int64(len(m.Payload))}
		}
		if err := dead.Delete(k); err != nil {
			return err
		}
		r.delta.dead--
	}
	*cur += r.delta.bytes
	return nil
}

// removeQueued deletes one message from queue and its key's chain.
func removeQueued(ch chain, k []byte, key string, seq uint64) (emptied bool, err error) {
	if err := ch.q.Delete(k); err != nil {
		return false, err
	}
	return ch.remove(key, seq)
}

func emptiedDelta(emptied bool) int {
	if emptied {
		return -1
	}
	return 0
}

// tailsOf is the writer's tail cache of topic t (writer goroutine only).
func (s *Store) tailsOf(t Topic) map[string]uint64 {
	m := s.tails[t]
	if m == nil {
		m = map[string]uint64{}
		s.tails[t] = m
	}
	return m
}

// isInflight reports whether key's head is with a handler.
func (s *Store) isInflight(t Topic, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.topicLocked(t).keys[key]
	return ks != nil && ks.inflight
}

// isInflightHead reports whether seq is the head of key and key is with a handler.
func (s *Store) isInflightHead(keys *bolt.Bucket, t Topic, key string, seq uint64) bool {
	if !s.isInflight(t, key) {
		return false
	}
	head, ok, err := headOf(keys, []byte(key))
	return err == nil && ok && head == seq
}

func copyBookkeeping(dst, src *Message) {
	dst.Attempts = src.Attempts
	dst.Strikes = src.Strikes
	dst.NextAttempt = src.NextAttempt
	dst.FirstErrorAt = src.FirstErrorAt
	dst.LastErrorAt = src.LastErrorAt
	dst.LastError = src.LastError
}

// submitAll hands rs to the writer and waits for all their commits. ErrClosed if the writer
// has stopped (then none was handed over).
func (s *Store) submitAll(rs []*writeReq) error {
	if !s.wq.push(rs...) {
		return ErrClosed
	}
	for _, r := range rs {
		<-r.done
	}
	return nil
}
