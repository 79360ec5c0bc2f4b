package outbox

import (
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// The poison rule: a head that keeps failing transiently while the destination accepts
// other messages is the message's problem, not the destination's. It is given up (moved to
// the dead letters, where an operator sees it and can replay it) so that its key's next
// messages flow:
//
//   - after Options.MaxAttempts failed attempts, or
//   - after Options.UrgentAttempts when the next message of its key is urgent
//     (EnqueueUrgent): checked at each failure and, when the urgent message arrives while
//     the head waits for its retry, at once;
//
// and only if a handler call that started after the head's first failure (FirstErrorAt,
// on disk) succeeded (topicIndex.okStart, in memory: after a restart a success has to be
// seen again). A real outage — nothing accepted since — gives up nothing.

// poisonReason is the dead-letter reason of a given-up head (its prefix is a shared
// convention: "given up after N attempts").
func poisonReason(m *Message) string {
	last := m.LastError
	if last == "" {
		last = "no error recorded"
	}
	return fmt.Sprintf("given up after %d attempts while the destination accepted other messages: %s", m.Attempts, last)
}

// poisoned reports which rule gives up m after its latest failure ("" = none).
func (s *Store) poisoned(ti *topicIndex, m *Message) string {
	if m.Attempts < min(s.opts.MaxAttempts, s.opts.UrgentAttempts) || !s.acceptedSince(ti, m) {
		return ""
	}
	if m.Attempts >= s.opts.MaxAttempts {
		return "max attempts"
	}
	if s.nextIsUrgent(m) {
		return "urgent message behind it"
	}
	return ""
}

// urgentWaits reports whether m, about to be attempted (or woken early), has failed
// UrgentAttempts times while others were accepted and an urgent message waits behind it.
func (s *Store) urgentWaits(ti *topicIndex, m *Message) bool {
	return m.Attempts >= s.opts.UrgentAttempts && m.Attempts > 0 && s.acceptedSince(ti, m) && s.nextIsUrgent(m)
}

func (s *Store) acceptedSince(ti *topicIndex, m *Message) bool {
	if m.FirstErrorAt.IsZero() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ti.acceptedSince(m.FirstErrorAt)
}

// nextIsUrgent reads whether the message behind m in its key's chain is urgent: one get in
// next/<topic> and one in queue/<topic> (its header only). A read error counts as no.
func (s *Store) nextIsUrgent(m *Message) bool {
	urgent := false
	err := s.view(func(tx *bolt.Tx) error {
		next, q := tx.Bucket(nextBucket(m.Topic)), tx.Bucket(queueBucket(m.Topic))
		if next == nil || q == nil {
			return nil
		}
		seq, ok := decodeSeq(next.Get(u64key(m.Seq)))
		if !ok {
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
		urgent = h.urgent
		return nil
	})
	if err != nil {
		s.log.Warn("outbox cannot read the message behind a failing head", "topic", string(m.Topic), "key", m.Key, "seq", m.Seq, "err", err)
		return false
	}
	return urgent
}

// giveUp moves a poison head to the dead letters and counts it.
func (s *Store) giveUp(ti *topicIndex, m Message, rule, evidence string, log *slog.Logger) {
	reason := poisonReason(&m)
	log.Error("outbox message given up: it keeps failing while the destination accepts other messages; moved to dead letters",
		"attempts", m.Attempts, "rule", rule, "first_error_at", m.FirstErrorAt, "err", m.LastError)
	if s.finishWith(ti, opDead, m, reason, evidence, log) {
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
