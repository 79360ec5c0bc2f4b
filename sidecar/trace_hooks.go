package sidecar

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The trace's hooks in the flows: each flow calls one of these in one line, so that the
// flows stay readable and the trace's wording lives here (trace.go explains the trace).

// traceChange records what a poll did with one record: mapped (new or changed: polled and
// mapped), filtered or refused by the mapping. Unchanged records are not traced.
func (s *Sidecar) traceChange(c Change) {
	switch c.Outcome {
	case Queue:
		what := "changed since the last link"
		if s.knownHash(c.IncidentID) == "" {
			what = "new incident"
		}
		s.trace.add(c.IncidentID, TraceEvent{Kind: tracePolled, Detail: "record read by the " + s.cfg.CAD.Adapter + " source"})
		s.trace.add(c.IncidentID, TraceEvent{Kind: traceMapped, Detail: what})
	case Filtered:
		s.trace.add(c.IncidentID, TraceEvent{Kind: traceFiltered, Detail: c.Reason})
	case Failed:
		s.trace.add(c.IncidentID, TraceEvent{Kind: traceMappingFailed, Detail: errString(c.Err)})
	}
}

// traceLinkQueued records a link queued for Assist.
func (s *Sidecar) traceLinkQueued(incident string, replaced bool, at time.Time) {
	d := ""
	if replaced {
		d = "replaces an unsent link of an older state"
	}
	s.trace.add(incident, TraceEvent{At: at, Kind: traceLinkQueued, Detail: d})
}

// traceLinkAnswer records a link attempt's outcome (err nil: linked to callID).
func (s *Sidecar) traceLinkAnswer(incident, callID string, attempt int, err error) {
	if err != nil {
		s.trace.add(incident, TraceEvent{Kind: traceLinkFailed, Detail: fmt.Sprintf("attempt %d: %v", attempt, err)})
		return
	}
	s.trace.add(incident, TraceEvent{Kind: traceLinked, CallID: callID, Detail: fmt.Sprintf("attempt %d", attempt)})
}

// traceCallStatus records a call status of a linked call.
func (s *Sidecar) traceCallStatus(incident, callID, status string) {
	kind := traceCallStarted
	if status == assist.CallEnded {
		kind = traceCallEnded
	}
	s.trace.add(incident, TraceEvent{Kind: kind, CallID: callID, Detail: "status " + status})
}

// noteEvent is a note event of q (ids, type, critical: no text).
func noteEvent(kind string, q queuedNote, detail string) TraceEvent {
	typ, critical, source := noteLabel(q)
	return TraceEvent{Kind: kind, CallID: q.CallID, NoteID: cmp.Or(q.Note.NoteID, deliveryKey(q)),
		NoteType: typ, Source: source, Critical: critical, Detail: detail}
}

// traceNoteReceived records a note (or call event note) taken in by via (push | pull) at
// at (before it was queued: its delivery may start before the enqueue returns).
func (s *Sidecar) traceNoteReceived(q queuedNote, via string, fresh bool, at time.Time) {
	from := "via " + via
	if q.Event == eventSummary {
		from = "from the call's summary (no CALL_COMPLETED note within the grace)"
	}
	d := from + ", queued"
	if !fresh {
		d = from + ", duplicate dropped"
	}
	ev := noteEvent(traceNoteReceived, q, d)
	ev.At = at
	s.trace.add(q.IncidentID, ev)
}

// traceNoteAttempt records a retry of a note (an attempt after failed ones).
func (s *Sidecar) traceNoteAttempt(q queuedNote, m outbox.Message) {
	if m.Attempts > 0 {
		s.trace.add(q.IncidentID, noteEvent(traceNoteRetry, q, fmt.Sprintf("attempt %d of %s", m.Attempts+1, DeadLetterID(m.Topic, m.Seq))))
	}
}

// traceNoteWrite records one write of a note (part i of n) into the CAD and its answer.
func (s *Sidecar) traceNoteWrite(q queuedNote, m outbox.Message, i, n int, err error) {
	d := fmt.Sprintf("%s attempt %d", DeadLetterID(m.Topic, m.Seq), m.Attempts+1)
	if n > 1 {
		d += fmt.Sprintf(" part %d/%d", i+1, n)
	}
	if err != nil {
		d += ": " + err.Error()
	} else {
		d += ": accepted by " + s.sinkName()
	}
	s.trace.add(q.IncidentID, noteEvent(traceNoteWrite, q, d))
}

// traceNoteDelivered records a note written whole.
func (s *Sidecar) traceNoteDelivered(q queuedNote, parts int) {
	s.trace.add(q.IncidentID, noteEvent(traceNoteDelivered, q, fmt.Sprintf("written to %s in %d part(s)", s.sinkName(), parts)))
}

// outboxDead is the outbox's OnDead: a link or note moved to the dead letters.
func (s *Sidecar) outboxDead(m outbox.Message, reason string) {
	d := DeadLetterID(m.Topic, m.Seq) + ": " + reason
	if m.Topic == outbox.TopicNote {
		var q queuedNote
		if json.Unmarshal(m.Payload, &q) == nil && q.IncidentID != "" {
			s.trace.add(q.IncidentID, noteEvent(traceGivenUp, q, d))
			return
		}
	}
	s.trace.add(m.Key, TraceEvent{Kind: traceGivenUp, Detail: d})
}

// traceDeadLetter records an operator's replay (kind traceReplayed) or drop of a dead letter.
func (s *Sidecar) traceDeadLetter(kind string, v DeadLetterView) {
	ev := TraceEvent{Kind: kind, CallID: v.CallID, Detail: v.ID + " by an operator"}
	if v.Topic == string(outbox.TopicNote) {
		ev.NoteType, ev.Source, ev.Critical = v.Type, v.Source, v.Critical
	}
	s.trace.add(v.IncidentID, ev)
}

// deadLettersToTrace lists the dead letters a replay of every one (of topic) puts back,
// for their traces: at most a few pages, the trace is not worth a long walk.
func (s *Sidecar) deadLettersToTrace(topic string) []DeadLetterView {
	var out []DeadLetterView
	q := DeadLetterQuery{Topic: topic, Limit: MaxDeadLetterLimit}
	for range 10 {
		page, err := ListDeadLetters(s.store, q)
		if err != nil {
			return out
		}
		out = append(out, page.DeadLetters...)
		if page.Next == "" {
			return out
		}
		q.After = page.Next
	}
	return out
}
