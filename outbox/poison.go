package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// The poison rule: a head that keeps failing transiently while the destination accepts
// other messages is the message's problem, not the destination's. It is given up (moved to
// the dead letters, where an operator sees it and can replay it) so that its key's next
// messages flow. The rule counts strikes, not attempts:
//
//   - A transient failure of the head is a strike when the destination accepted another
//     message after the head's previous failed attempt: a handler call that started after
//     Message.LastErrorAt (for the head's first failure: after this attempt started)
//     returned nil (topicIndex.okStart, in memory). Strikes are kept in the record
//     (Message.Strikes, on disk, so a restart neither forgets nor repeats them); a
//     failure with no success in between is not a strike.
//   - The head is given up after Options.MaxAttempts strikes, or after
//     Options.UrgentAttempts strikes when an urgent message (EnqueueUrgent) waits
//     anywhere behind it in its key (the first maxUrgentScan messages are looked at):
//     checked at each failure and, when the urgent message arrives while the head waits
//     for its retry, at once.
//
// So a real outage gives up nothing: once nothing is accepted, each head gets at most one
// more strike (its first failure after the last success), whatever its attempts; strikes
// only grow while other messages keep being accepted between the head's failures.
//
// One key alone (nothing else to be accepted) would never collect strikes. So, when the
// head has failed at least Options.UrgentAttempts times (attempts, not strikes) and an
// urgent message waits behind it, the message directly behind the head (the urgent one
// when it is next) is tried out of order, once after each failure of the head (and at once
// when the urgent message arrives during the head's backoff), while the breaker is closed:
// if the destination accepts it, that is the proof the head is poison: it is acked, the
// head is given up and the rest follows. The delivered messages keep their order: only the
// given-up head is missing from it. If the destination refuses it too, nothing is given up
// (a transient refusal is recorded on that message's attempts; a permanent one
// dead-letters it as its turn would).

// maxUrgentScan bounds the walk behind a failing head looking for an urgent message.
const maxUrgentScan = 1000

// poisonReason is the dead-letter reason of a given-up head (its prefix is a shared
// convention: "given up after N attempts").
func poisonReason(m *Message) string {
	last := m.LastError
	if last == "" {
		last = "no error recorded"
	}
	return fmt.Sprintf("given up after %d attempts while the destination accepted other messages: %s", m.Attempts, last)
}

// strike reports whether m's failure that just happened is a strike: the destination
// accepted another message whose handler call started after prev (m's previous failure, or
// the start of this attempt for its first).
func (s *Store) strike(ti *topicIndex, prev time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ti.acceptedSince(prev)
}

// poisoned reports which rule gives up m after its latest failure ("" = none).
func (s *Store) poisoned(m *Message) string {
	if m.Strikes < min(s.opts.MaxAttempts, s.opts.UrgentAttempts) {
		return ""
	}
	if m.Strikes >= s.opts.MaxAttempts {
		return "max attempts"
	}
	if m.Strikes >= s.opts.UrgentAttempts {
		if _, ok := s.urgentBehind(m); ok {
			return "urgent message behind it"
		}
	}
	return ""
}

// urgentWaits reports whether m, about to be attempted (or woken early), has UrgentAttempts
// strikes and an urgent message waits behind it.
func (s *Store) urgentWaits(m *Message) bool {
	if m.Strikes < s.opts.UrgentAttempts || m.Strikes == 0 {
		return false
	}
	_, ok := s.urgentBehind(m)
	return ok
}

// probeTarget returns the message to try out of order behind m, the one directly behind it
// (see the rule above): m failed at least UrgentAttempts times, an urgent message waits
// behind it, the breaker is closed and this call is not the breaker's probe.
func (s *Store) probeTarget(ti *topicIndex, m *Message, probe bool) (Message, bool) {
	if probe || m.Attempts < s.opts.UrgentAttempts || m.Attempts == 0 {
		return Message{}, false
	}
	s.mu.Lock()
	open := ti.brOpen
	s.mu.Unlock()
	if open {
		return Message{}, false
	}
	if _, ok := s.urgentBehind(m); !ok {
		return Message{}, false
	}
	seq, ok := s.nextOf(m)
	if !ok {
		return Message{}, false
	}
	u, err := s.loadSeq(m.Topic, seq)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.Warn("outbox cannot read the message behind a failing head", "topic", string(m.Topic), "key", m.Key, "seq", seq, "err", err)
		}
		return Message{}, false
	}
	return u, u.Key == m.Key
}

// urgentBehind returns the seq of the first urgent message behind m in its key's chain,
// looking at up to maxUrgentScan message headers. A read error counts as none.
func (s *Store) urgentBehind(m *Message) (uint64, bool) {
	var found uint64
	ok := false
	err := s.view(func(tx *bolt.Tx) error {
		next, q := tx.Bucket(nextBucket(m.Topic)), tx.Bucket(queueBucket(m.Topic))
		if next == nil || q == nil {
			return nil
		}
		cur := m.Seq
		for range maxUrgentScan {
			seq, more := decodeSeq(next.Get(u64key(cur)))
			if !more {
				return nil
			}
			v := q.Get(u64key(seq))
			if v == nil {
				return nil
			}
			h, err := decodeHeader(v)
			if err != nil {
				return fmt.Errorf("seq %d: %w", seq, err)
			}
			if h.urgent {
				found, ok = seq, true
				return nil
			}
			cur = seq
		}
		return nil
	})
	if err != nil {
		s.log.Warn("outbox cannot read the messages behind a failing head", "topic", string(m.Topic), "key", m.Key, "seq", m.Seq, "err", err)
		return 0, false
	}
	return found, ok
}

// nextOf returns the seq of the message behind m in its key's chain.
func (s *Store) nextOf(m *Message) (uint64, bool) {
	var seq uint64
	ok := false
	err := s.view(func(tx *bolt.Tx) error {
		if next := tx.Bucket(nextBucket(m.Topic)); next != nil {
			seq, ok = decodeSeq(next.Get(u64key(m.Seq)))
		}
		return nil
	})
	return seq, ok && err == nil
}

// loadSeq reads one pending message by seq.
func (s *Store) loadSeq(topic Topic, seq uint64) (Message, error) {
	var m Message
	err := s.view(func(tx *bolt.Tx) error {
		q := tx.Bucket(queueBucket(topic))
		if q == nil {
			return ErrNotFound
		}
		v := q.Get(u64key(seq))
		if v == nil {
			return ErrNotFound
		}
		var err error
		m, err = decodeMessage(v, topic, seq)
		return err
	})
	return m, err
}

// probeBehind delivers u, the message behind the failing head of its key, out of order (the key is in flight: nothing else of it runs). free records the outcome and frees
// the handler slot. It reports whether the destination accepted u and its ack is
// committed: then the head is proven poison.
func (s *Store) probeBehind(ctx context.Context, u Message, h Handler, free func(brOutcome, error, time.Time), log *slog.Logger) bool {
	log = log.With("ahead_seq", u.Seq)
	start := s.opts.Now()
	err := callHandler(ctx, h, u)
	now := s.opts.Now()
	switch {
	case err == nil:
		free(brAccepted, nil, start)
		r := getReq()
		r.kind, r.topic, r.seq = opAck, u.Topic, u.Seq
		werr := s.submitInternal(r)
		putReq(r)
		if werr != nil {
			log.Error("outbox cannot record delivery of the message sent ahead of a failing head; it stays pending", "err", werr)
			return false
		}
		if s.afterAck != nil {
			s.afterAck(u)
		}
		log.Warn("outbox message behind a failing head accepted ahead of it: the head is tried again at once")
		return true
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		free(brNoAnswer, nil, time.Time{})
		return false
	}
	u.Attempts++
	if u.FirstErrorAt.IsZero() {
		u.FirstErrorAt = now
	}
	u.LastErrorAt = now
	u.LastError = truncate(err.Error(), maxLastError)
	r := getReq()
	defer putReq(r)
	r.topic, r.seq, r.msg = u.Topic, u.Seq, u
	if delivery.IsPermanent(err) {
		free(brReached, nil, time.Time{})
		log.Error("outbox message sent ahead of a failing head failed permanently; moved to dead letters", "attempts", u.Attempts, "err", err)
		r.kind, r.reason, r.evidence = opDead, u.LastError, evidenceOf(err)
	} else {
		free(brDown, err, time.Time{})
		log.Warn("outbox message sent ahead of a failing head failed too; the head is kept", "attempts", u.Attempts, "err", err)
		r.kind = opRetry
	}
	if werr := s.submitInternal(r); werr != nil {
		log.Error("outbox cannot record the failed attempt of the message sent ahead", "err", werr)
	}
	return false
}

// headAfterProbe runs after the message behind the failing head m was accepted out of
// order: the destination is up now. That alone does not prove m poison — the try behind
// it may simply have been the first call after an outage — so m is tried once more at
// once: accepted → delivered (one place out of order); refused again → given up (the
// destination accepted another message a moment ago and still refuses this one). Its
// handler slot was freed by probeBehind; the key is still in flight, so nothing else of
// it runs meanwhile.
func (s *Store) headAfterProbe(ctx context.Context, ti *topicIndex, m Message, h Handler, log *slog.Logger) {
	err := callHandler(ctx, h, m)
	now := s.opts.Now()
	switch {
	case err == nil:
		log.Info("outbox message delivered right after the one behind it (the destination is back)", "attempts", m.Attempts)
		s.finish(ti, opAck, m, "", log)
		return
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		s.release(ti, m.Key, m.NextAttempt, m.Attempts)
		return
	}
	m.Attempts++
	if m.FirstErrorAt.IsZero() {
		m.FirstErrorAt = now
	}
	m.LastErrorAt = now
	m.LastError = truncate(err.Error(), maxLastError)
	if delivery.IsPermanent(err) {
		log.Error("outbox delivery failed permanently; moved to dead letters", "attempts", m.Attempts, "err", err)
		s.finishWith(ti, opDead, m, m.LastError, evidenceOf(err), nil, log)
		return
	}
	m.Strikes++
	s.giveUp(ti, m, "refused right after the message behind it was accepted", evidenceOf(err), log)
}

// giveUp moves a poison head to the dead letters and counts it.
func (s *Store) giveUp(ti *topicIndex, m Message, rule, evidence string, log *slog.Logger) {
	reason := poisonReason(&m)
	log.Error("outbox message given up: it keeps failing while the destination accepts other messages; moved to dead letters",
		"attempts", m.Attempts, "strikes", m.Strikes, "rule", rule, "first_error_at", m.FirstErrorAt, "err", m.LastError)
	if s.finishWith(ti, opDead, m, reason, evidence, nil, log) {
		s.mu.Lock()
		ti.givenUp++
		s.mu.Unlock()
	}
}

// urgentQueued is called after an urgent message of key was committed: see
// topicIndex.urgentQueued.
func (s *Store) urgentQueued(topic Topic, key string) {
	s.mu.Lock()
	ti := s.topics[topic]
	woke := ti != nil && ti.urgentQueued(key, s.opts.Now(), s.opts.UrgentAttempts)
	s.mu.Unlock()
	if woke {
		ti.poke()
	}
}
