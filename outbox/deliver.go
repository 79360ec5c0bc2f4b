package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// Handler delivers one message. nil = done (the message is deleted); an error marked
// Permanent = dead letter; any other error = retry later (RetryAfter sets the delay).
// The handler must return soon after ctx is done. A panic is recovered and treated as a
// permanent error ("handler panic: ...").
type Handler func(ctx context.Context, m Message) error

// maxLastError bounds the error text stored with a message.
const maxLastError = 4096

// Deliver runs delivery for one topic until ctx is done or the Store is closed, then waits
// for its in-flight handlers (and the commit of their outcomes) and returns ctx.Err() (or
// ErrClosed when Close stopped it). One Deliver per topic may run at a time; a second one
// returns an error at once.
//
//   - FIFO per Key: the next message of a key is handed out only after the previous one was
//     deleted or dead-lettered (committed). Different keys run in parallel, at most
//     Options.Concurrency handlers at once; outcomes are committed through the writer, in
//     groups, after the handler's slot was freed.
//   - nil → deleted. Permanent error → dead letter with reason err.Error(). Other errors →
//     Attempts+1, LastError, First/LastErrorAt, NextAttempt = now + backoff (capped
//     exponential RetryInitial..RetryMax with jitter in [d/2, d], or delivery.RetryDelay(err) capped
//     at RetryMax); the key waits until then (its later messages too).
//   - Poison heads: a head that keeps failing transiently while the destination accepts
//     other messages is given up after Options.MaxAttempts strikes (after
//     Options.UrgentAttempts when an urgent message waits behind it): dead letter with
//     reason "given up after N attempts while the destination accepted other messages:
//     <last error>", then the key's next message flows. A failure is a strike only when
//     another message was accepted since the head's previous failure, so an outage gives
//     up nothing. A key alone: after UrgentAttempts failures with an urgent message behind
//     the head, the message directly behind it is tried out of order; accepted, it gives
//     the head up. See poison.go.
//     Stats.GivenUp counts them.
//   - Circuit breaker per topic: transient errors of two different keys with no answer in
//     between mark the destination down (one key's repeated failures do not). Then only
//     one message at a time (the probe: the next ready key whose head has not failed,
//     round-robin, else the next ready key, so a failing message neither keeps it down nor
//     takes the probes others need) is handed out, after a capped exponential backoff
//     (RetryInitial..RetryMax, jitter; delivery.RetryDelay(err) honoured) that grows with each failed
//     probe. The first success (or permanent error: the destination answered) restores full
//     concurrency. Stats.Backoff shows when the next probe is due.
//   - A message older than MaxAge when it comes up is dead-lettered with reason
//     "expired after <age>: <last error>" (a sweep also does it behind stuck keys).
//   - Enqueue and Replay wake Deliver at once; a timer wakes it at the earliest NextAttempt.
//   - While the disk is full an ack or dead letter is held and committed again until it
//     succeeds (writer.go); once ctx is done it is given up (the message stays pending and
//     is delivered again after the restart), so Deliver returns without waiting for space.
//   - A handler that fails because ctx was cancelled (its error wraps context.Canceled or
//     DeadlineExceeded while ctx is done) does not count as an attempt: the message is left
//     pending as it was. Any other error counts, even if it arrives during shutdown.
//
// Finding the next message is O(log keys) in memory plus one get in keys/<topic> and one
// read of the head (see the package doc): flat in the size of the backlog.
func (s *Store) Deliver(ctx context.Context, topic Topic, h Handler) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	if h == nil {
		return errors.New("outbox: deliver: nil handler")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	ti := s.topicLocked(topic)
	if ti.delivering {
		s.mu.Unlock()
		return fmt.Errorf("outbox: deliver %s: another Deliver is already running for this topic", topic)
	}
	ti.delivering = true
	s.deliverWG.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		ti.delivering = false
		// A probe cannot outlive its Deliver.
		ti.brProbe = false
		s.mu.Unlock()
		s.deliverWG.Done()
	}()

	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closeCtx, cancel)()
	s.setDeliverDone(topic, dctx.Done())
	defer s.setDeliverDone(topic, nil)

	slots := make(chan struct{}, s.opts.Concurrency) // a handler returned
	var wg sync.WaitGroup                            // handlers and their commits
	running := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Duration(0)
		for running < s.opts.Concurrency && dctx.Err() == nil {
			s.mu.Lock()
			ks, probe, w := ti.next(s.opts.Now(), time.Now())
			s.mu.Unlock()
			if ks == nil {
				wait = w
				break
			}
			m, err := s.loadHead(topic, ks.key)
			if err != nil {
				s.loadFailed(ti, ks.key, probe, err)
				continue
			}
			running++
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.handle(dctx, ti, m, h, probe, slots)
			}()
		}
		timerC := (<-chan time.Time)(nil)
		if wait > 0 {
			timer.Reset(wait)
			timerC = timer.C
		}
		select {
		case <-dctx.Done():
			// Outcomes held by the writer for lack of space are given up (left pending),
			// so that the handlers waiting for them return (see writer.go).
			s.wq.poke()
			wg.Wait()
			if err := ctx.Err(); err != nil {
				return err
			}
			return ErrClosed
		case <-slots:
			running--
		case <-ti.wake:
		case <-timerC:
		}
		if timerC != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// loadHead reads the head (oldest pending message) of key: two gets.
func (s *Store) loadHead(topic Topic, key string) (Message, error) {
	var m Message
	err := s.view(func(tx *bolt.Tx) error {
		keys, q := tx.Bucket(keysBucket(topic)), tx.Bucket(queueBucket(topic))
		if keys == nil || q == nil {
			return ErrNotFound
		}
		seq, ok, err := headOf(keys, []byte(key))
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		v := q.Get(u64key(seq))
		if v == nil {
			return fmt.Errorf("head seq %d of key %q not in queue: %w", seq, key, errCorrupt)
		}
		m, err = decodeMessage(v, topic, seq)
		return err
	})
	return m, err
}

func (s *Store) loadFailed(ti *topicIndex, key string, probe bool, err error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if probe {
		ti.brProbe = false
	}
	if errors.Is(err, ErrNotFound) {
		// Its last message was removed by a commit whose effects on the index are being
		// applied (expiry sweep): the count catches up, then the key is dropped.
		s.log.Debug("outbox key has no pending message on disk; retrying later", "key", key)
		ti.release(key, now.Add(s.opts.RetryInitial), now, -1)
		return
	}
	if !s.closed {
		s.log.Error("outbox cannot read message; will retry", "key", key, "err", err)
	}
	ti.release(key, now.Add(s.opts.RetryInitial), now, -1)
}

// ageBase is when MaxAge starts counting for m.
func ageBase(m *Message) time.Time {
	if m.ReplayedAt.After(m.CreatedAt) {
		return m.ReplayedAt
	}
	return m.CreatedAt
}

func expiredReason(m *Message, now time.Time) string {
	last := m.LastError
	if last == "" {
		last = "no error recorded"
	}
	return fmt.Sprintf("expired after %s: %s", now.Sub(ageBase(m)).Truncate(time.Millisecond), last)
}

// handle runs one message through h and records the outcome: the breaker at once, then the
// handler slot is freed, then the commit, then the in-memory index.
func (s *Store) handle(ctx context.Context, ti *topicIndex, m Message, h Handler, probe bool, slots chan<- struct{}) {
	log := s.log.With("topic", string(m.Topic), "key", m.Key, "seq", m.Seq)
	freed := false
	free := func(o brOutcome, err error, start time.Time) {
		if freed {
			return
		}
		freed = true
		s.recordOutcome(ti, probe, m.Key, o, err, start)
		slots <- struct{}{}
	}
	defer free(brNoAnswer, nil, time.Time{})

	now := s.opts.Now()
	if s.urgentWaits(&m) { // checked before the backoff: that is what it cuts short
		free(brNoAnswer, nil, time.Time{})
		s.giveUp(ti, m, "urgent message behind it", "", log)
		return
	}
	if m.NextAttempt.After(now) { // not due (woken for an urgent message, or clock moved back)
		// Woken for an urgent message behind this failing head: the head is tried now, not
		// at the end of its backoff — and only if it fails is the message behind it tried
		// ahead (below). Trying the one behind first would reorder the incident's notes
		// whenever the destination had merely been down and is back.
		if _, ok := s.probeTarget(ti, &m, probe); !ok {
			free(brNoAnswer, nil, time.Time{})
			s.release(ti, m.Key, m.NextAttempt, m.Attempts)
			return
		}
	}
	if now.Sub(ageBase(&m)) > s.opts.MaxAge {
		free(brNoAnswer, nil, time.Time{})
		reason := expiredReason(&m, now)
		log.Error("outbox message expired; moved to dead letters", "attempts", m.Attempts, "reason", reason)
		s.finish(ti, opDead, m, reason, log)
		return
	}

	start := now
	slot := &ackSlot{} // what the handler asks to commit with the ack (PutLinkWithAck)
	err := callHandler(context.WithValue(ctx, ackSlotKey{}, slot), h, m)
	now = s.opts.Now()
	switch {
	case err == nil:
		free(brAccepted, nil, start)
		log.Debug("outbox message delivered", "attempts", m.Attempts)
		s.finishAck(ti, m, slot, log)
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		free(brNoAnswer, nil, time.Time{})
		log.Debug("outbox delivery interrupted by shutdown; left pending", "err", err)
		s.release(ti, m.Key, m.NextAttempt, m.Attempts)
	default:
		prev := m.LastErrorAt // the previous failure; none: the window is this attempt
		if prev.IsZero() || m.Attempts == 0 {
			prev = start
		}
		m.Attempts++
		if m.FirstErrorAt.IsZero() {
			m.FirstErrorAt = now
		}
		m.LastErrorAt = now
		m.LastError = truncate(err.Error(), maxLastError)
		if delivery.IsPermanent(err) {
			free(brReached, nil, time.Time{})
			log.Error("outbox delivery failed permanently; moved to dead letters", "attempts", m.Attempts, "err", err)
			s.finishWith(ti, opDead, m, m.LastError, evidenceOf(err), nil, log)
			return
		}
		if s.strike(ti, prev) {
			m.Strikes++
		}
		if rule := s.poisoned(&m); rule != "" {
			free(brDown, err, time.Time{})
			s.giveUp(ti, m, rule, evidenceOf(err), log)
			return
		}
		if u, ok := s.probeTarget(ti, &m, probe); ok {
			// The head's failure feeds the breaker now; the slot is kept for the probe.
			s.recordOutcome(ti, false, m.Key, brDown, err, time.Time{})
			// First the head once more, back to back: a destination just back from an outage
			// often fails the first call on a connection that died with it (a database pool)
			// and takes the next; sending the one behind ahead then would reorder notes
			// whose destination was merely down.
			again := s.opts.Now()
			if callHandler(ctx, h, m) == nil {
				free(brAccepted, nil, again)
				log.Debug("outbox message delivered on a second try", "attempts", m.Attempts)
				s.finish(ti, opAck, m, "", log)
				return
			}
			if s.probeBehind(ctx, u, h, free, log) {
				s.headAfterProbe(ctx, ti, m, h, log)
				return
			}
		}
		free(brDown, err, time.Time{})
		delay := s.backoff(m.Attempts, err)
		m.NextAttempt = now.Add(delay)
		log.Warn("outbox delivery failed; will retry", "attempts", m.Attempts, "retry_in", delay, "err", err)
		r := getReq()
		r.kind, r.topic, r.seq, r.msg = opRetry, m.Topic, m.Seq, m
		if werr := s.submitInternal(r); werr != nil {
			log.Error("outbox cannot record failed attempt", "err", werr)
		}
		putReq(r)
		s.release(ti, m.Key, m.NextAttempt, m.Attempts)
	}
}

// recordOutcome feeds the topic's circuit breaker and, for a success, the time the
// destination was last seen accepting a message (start: when its handler call began).
func (s *Store) recordOutcome(ti *topicIndex, probe bool, key string, o brOutcome, err error, start time.Time) {
	now := time.Now() // the breaker runs on the wall clock (see topicIndex.next)
	s.mu.Lock()
	if o == brAccepted && start.After(ti.okStart) {
		ti.okStart = start
	}
	wasOpen := ti.brOpen
	closed := ti.record(probe, key, o, now, func(failures int) time.Duration { return s.backoff(failures, err) })
	isOpen, next := ti.brOpen, ti.brNext
	s.mu.Unlock()
	switch {
	case closed:
		s.log.Info("outbox destination reachable again; full speed", "topic", string(ti.topic))
	case isOpen && (!wasOpen || probe):
		s.log.Warn("outbox destination down; probing with one message at a time", "topic", string(ti.topic), "next_probe", next, "err", err)
	}
	if closed || probe {
		ti.poke()
	}
}

// finish commits an ack or dead letter, then advances the key. If the commit fails the
// message stays at the head of its key and is retried after RetryInitial (it may be
// delivered again: at-least-once). It reports whether the commit succeeded.
func (s *Store) finish(ti *topicIndex, kind opKind, m Message, reason string, log *slog.Logger) bool {
	return s.finishWith(ti, kind, m, reason, "", nil, log)
}

// finishAck is finish of an ack with what the handler asked to commit with it.
func (s *Store) finishAck(ti *topicIndex, m Message, slot *ackSlot, log *slog.Logger) bool {
	return s.finishWith(ti, opAck, m, "", "", slot, log)
}

// finishWith is finish with the evidence a dead letter keeps (see DeadLetter.Evidence).
func (s *Store) finishWith(ti *topicIndex, kind opKind, m Message, reason, evidence string, slot *ackSlot, log *slog.Logger) bool {
	r := getReq()
	defer putReq(r)
	r.kind, r.topic, r.seq, r.reason, r.evidence = kind, m.Topic, m.Seq, reason, evidence
	if kind == opDead {
		r.msg = m
	}
	if slot != nil && slot.hasLink {
		r.link, r.withLink = slot.link, true
	}
	r.stop = s.deliverDoneOf(m.Topic)
	if err := s.submitInternal(r); err != nil {
		log.Error("outbox cannot record delivery outcome; message stays pending", "op", kind.String(), "err", err)
		s.release(ti, m.Key, s.opts.Now().Add(s.opts.RetryInitial), m.Attempts)
		return false
	}
	if r.withLink {
		s.addUnlinked(-r.freed)
	}
	if kind == opAck && s.afterAck != nil {
		s.afterAck(m)
	}
	if kind == opDead && s.opts.OnDead != nil {
		s.opts.OnDead(m, reason)
	}
	s.release(ti, m.Key, time.Time{}, 0)
	return true
}

// setDeliverDone records done, the Done channel of topic's running Deliver (nil: none).
func (s *Store) setDeliverDone(topic Topic, done <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done == nil {
		delete(s.deliverDone, topic)
		return
	}
	if s.deliverDone == nil {
		s.deliverDone = map[Topic]<-chan struct{}{}
	}
	s.deliverDone[topic] = done
}

// deliverDoneOf is the Done channel of topic's running Deliver (nil: none).
func (s *Store) deliverDoneOf(topic Topic) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliverDone[topic]
}

// release ends key's in-flight state: its head (failures: its failed attempts) is due at
// notBefore.
func (s *Store) release(ti *topicIndex, key string, notBefore time.Time, failures int) {
	s.mu.Lock()
	ti.release(key, notBefore, s.opts.Now(), failures)
	s.mu.Unlock()
	ti.poke()
}

func callHandler(ctx context.Context, h Handler, m Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = delivery.Permanentf("handler panic: %v", p)
		}
	}()
	return h(ctx, m)
}

// backoff is the delay before the next attempt after `attempts` failures.
func (s *Store) backoff(attempts int, err error) time.Duration {
	if d, ok := delivery.RetryDelay(err); ok {
		return min(d, s.opts.RetryMax)
	}
	d := s.opts.RetryInitial
	for i := 1; i < attempts && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.opts.RetryMax)
	half := d / 2
	return half + rand.N(d-half+1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
