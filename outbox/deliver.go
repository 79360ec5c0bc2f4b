package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Handler delivers one message. nil = done (the message is deleted); an error marked
// Permanent = dead letter; any other error = retry later (RetryAfter sets the delay).
// The handler must return soon after ctx is done. A panic is recovered and treated as a
// permanent error ("handler panic: ...").
type Handler func(ctx context.Context, m Message) error

// maxLastError bounds the error text stored with a message.
const maxLastError = 4096

// Deliver runs delivery for one topic until ctx is done or the Store is closed, then waits
// for its in-flight handlers and returns ctx.Err() (or ErrClosed when Close stopped it). One
// Deliver per topic may run at a time; a second one returns an error at once.
//
//   - FIFO per Key: the next message of a key is handed out only after the previous one was
//     deleted or dead-lettered. Different keys run in parallel, at most Options.Concurrency
//     at once.
//   - nil → deleted. Permanent error → dead letter with reason err.Error(). Other errors →
//     Attempts+1, LastError, First/LastErrorAt, NextAttempt = now + backoff (capped
//     exponential RetryInitial..RetryMax with jitter in [d/2, d], or RetryDelay(err) capped
//     at RetryMax); the key waits until then (its later messages too).
//   - A message older than MaxAge when it comes up is dead-lettered with reason
//     "expired after <age>: <last error>".
//   - Enqueue and Replay wake Deliver at once; a timer wakes it at the earliest NextAttempt.
//   - A handler that fails because ctx was cancelled does not count as an attempt: the
//     message is left pending as it was.
//
// Finding the next message is O(log keys) through the in-memory index (see the package
// doc); only the message handed out is read from disk.
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
		s.mu.Unlock()
		s.deliverWG.Done()
	}()

	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closeCtx, cancel)()

	done := make(chan struct{}, s.opts.Concurrency)
	inflight := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Duration(0)
		for inflight < s.opts.Concurrency && dctx.Err() == nil {
			s.mu.Lock()
			key, seq, ok, w := ti.next(s.opts.Now())
			s.mu.Unlock()
			if !ok {
				wait = w
				break
			}
			m, err := s.loadMessage(topic, seq)
			if err != nil {
				s.loadFailed(ti, key, seq, err)
				continue
			}
			inflight++
			go func() {
				defer func() { done <- struct{}{} }()
				s.handle(dctx, ti, m, h)
			}()
		}
		timerC := (<-chan time.Time)(nil)
		if wait > 0 {
			timer.Reset(wait)
			timerC = timer.C
		}
		select {
		case <-dctx.Done():
			for ; inflight > 0; inflight-- {
				<-done
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return ErrClosed
		case <-done:
			inflight--
		case <-ti.wake:
		case <-timerC:
		}
	}
}

func (s *Store) loadMessage(topic Topic, seq uint64) (Message, error) {
	var m Message
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(queueBucket(topic)).Get(u64key(seq))
		if v == nil {
			return ErrNotFound
		}
		var err error
		m, err = decodeMessage(v, topic, seq)
		return err
	})
	return m, err
}

func (s *Store) loadFailed(ti *topicIndex, key string, seq uint64, err error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, ErrNotFound) {
		// The index had a seq the file has not: drop it from the index.
		s.log.Error("outbox index out of step with the file; skipping", "key", key, "seq", seq)
		ti.release(key, true, time.Time{}, now)
		return
	}
	if !s.closed {
		s.log.Error("outbox cannot read message; will retry", "key", key, "seq", seq, "err", err)
	}
	ti.release(key, false, now.Add(s.opts.RetryInitial), now)
}

// handle runs one message through h and records the outcome (commit first, then the
// in-memory index).
func (s *Store) handle(ctx context.Context, ti *topicIndex, m Message, h Handler) {
	log := s.log.With("topic", string(m.Topic), "key", m.Key, "seq", m.Seq)
	now := s.opts.Now()
	if m.NextAttempt.After(now) { // not due (e.g. clock moved back): put it back
		s.release(ti, m.Key, false, m.NextAttempt)
		return
	}
	base := m.CreatedAt
	if m.ReplayedAt.After(base) {
		base = m.ReplayedAt
	}
	if age := now.Sub(base); age > s.opts.MaxAge {
		last := m.LastError
		if last == "" {
			last = "no error recorded"
		}
		reason := fmt.Sprintf("expired after %s: %s", age.Truncate(time.Millisecond), last)
		log.Error("outbox message expired; moved to dead letters", "attempts", m.Attempts, "reason", reason)
		s.finish(ti, &writeReq{kind: opDead, topic: m.Topic, seq: m.Seq, msg: m, reason: reason}, m.Key, log)
		return
	}

	err := callHandler(ctx, h, m)
	now = s.opts.Now()
	switch {
	case err == nil:
		log.Debug("outbox message delivered", "attempts", m.Attempts)
		s.finish(ti, &writeReq{kind: opAck, topic: m.Topic, seq: m.Seq}, m.Key, log)
	case ctx.Err() != nil:
		log.Debug("outbox delivery interrupted by shutdown; left pending", "err", err)
		s.release(ti, m.Key, false, m.NextAttempt)
	default:
		m.Attempts++
		if m.FirstErrorAt.IsZero() {
			m.FirstErrorAt = now
		}
		m.LastErrorAt = now
		m.LastError = truncate(err.Error(), maxLastError)
		if IsPermanent(err) {
			log.Error("outbox delivery failed permanently; moved to dead letters", "attempts", m.Attempts, "err", err)
			s.finish(ti, &writeReq{kind: opDead, topic: m.Topic, seq: m.Seq, msg: m, reason: m.LastError}, m.Key, log)
			return
		}
		delay := s.backoff(m.Attempts, err)
		m.NextAttempt = now.Add(delay)
		log.Warn("outbox delivery failed; will retry", "attempts", m.Attempts, "retry_in", delay, "err", err)
		if werr := s.submitInternal(&writeReq{kind: opRetry, topic: m.Topic, seq: m.Seq, msg: m}); werr != nil {
			log.Error("outbox cannot record failed attempt", "err", werr)
		}
		s.release(ti, m.Key, false, m.NextAttempt)
	}
}

// finish commits an ack or dead letter, then advances the key. If the commit fails the
// message stays at the head of its key and is retried after RetryInitial (it may be
// delivered again: at-least-once).
func (s *Store) finish(ti *topicIndex, r *writeReq, key string, log *slog.Logger) {
	if err := s.submitInternal(r); err != nil {
		log.Error("outbox cannot record delivery outcome; message stays pending", "op", r.kind.String(), "err", err)
		s.release(ti, key, false, s.opts.Now().Add(s.opts.RetryInitial))
		return
	}
	s.release(ti, key, true, time.Time{})
}

func (s *Store) release(ti *topicIndex, key string, removed bool, notBefore time.Time) {
	s.mu.Lock()
	ti.release(key, removed, notBefore, s.opts.Now())
	s.mu.Unlock()
	ti.poke()
}

func callHandler(ctx context.Context, h Handler, m Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanentf("handler panic: %v", p)
		}
	}()
	return h(ctx, m)
}

// backoff is the delay before the next attempt after `attempts` failures.
func (s *Store) backoff(attempts int, err error) time.Duration {
	if d, ok := RetryDelay(err); ok {
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
