package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// State buckets in the store.
const (
	bucketCursor = "cursor" // "cad" → the CAD poll cursor; "notes/<callId>" → notes pull cursor
	bucketHash   = "hash"   // incidentId → content hash of the last queued LinkIncidentRequest
	bucketMeta   = "meta"   // "webhook_id", "webhook_registration"
	cadCursorKey = "cad"
	// cadCursorKindKey → the CAD cursor's kind as the source last said it (time |
	// sequence), for cursor show/set while the source is not polled.
	cadCursorKindKey = "cad.kind"
)

// emit is the adapters.Emit the CAD source gets: map each record of the batch, queue a
// link for each new or changed incident, then advance the cursor — all durable when it
// returns nil. One bad record is reported and skipped; it never stops the batch. A failed
// read (Batch.Err) or a failure here is counted, logged and shown in readiness. Batches
// never overlap each other nor an operator's cursor change (s.polling).
func (s *Sidecar) emit(ctx context.Context, b adapters.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.polling.Lock()
	defer s.polling.Unlock()
	err := b.Err
	if err == nil {
		err = s.takeBatch(ctx, b)
	}
	if err != nil {
		var refused *adapters.Refused
		if ctx.Err() != nil || errors.As(err, &refused) {
			return err // a refused AllOrNothing batch is the sender's fault, not a failed read
		}
		msg := err.Error()
		s.pollErr.Store(&msg)
		s.metrics.Polls.WithLabelValues("error").Inc()
		s.pollFails.fail(s.log, time.Now(), err)
		return err
	}
	s.pollErr.Store(nil)
	now := time.Now()
	s.pollFails.ok(s.log, now)
	s.lastPollOK.Store(now.UnixNano())
	s.metrics.Polls.WithLabelValues("ok").Inc()
	s.metrics.LastPoll.Set(float64(now.Unix()))
	s.metrics.Ops.cadContact(now)
	return nil
}

// storedCursor is the CAD cursor as stored (Deps.Cursor of the source).
func (s *Sidecar) storedCursor() (string, error) {
	c, _, err := s.store.Get(bucketCursor, cadCursorKey)
	if err != nil {
		return "", fmt.Errorf("read CAD cursor: %w", err)
	}
	return c, nil
}

// takeBatch processes one batch (see emit).
func (s *Sidecar) takeBatch(ctx context.Context, batch adapters.Batch) error {
	cursor, err := s.storedCursor()
	if err != nil {
		return err
	}
	if batch.Polled && batch.Since != cursor {
		// An operator changed the cursor while this batch was read: the records count,
		// the cursor they bring does not (the next read starts from the operator's).
		s.log.Debug("CAD cursor changed during the poll; its cursor not adopted", "since", batch.Since, "cursor", cursor)
		batch.Cursor, batch.FutureCursor = "", ""
	}
	// Cursors are judged as the Source says they are: a sequence never, a time against
	// the Source's clock when it gives one (else ours, taken after the poll so it is never
	// earlier than the Source's), a cursor of unknown kind by its form.
	now, tol := time.Now(), s.cfg.CAD.CursorTolerance
	ref := now
	if !batch.Clock.IsZero() {
		ref = batch.Clock
	}
	inFuture := func(c string) bool {
		_, f := adapters.CursorInFuture(c, batch.CursorKind, ref, tol)
		return f
	}
	final, err := s.cursorKindPut(batch.CursorKind)
	if err != nil {
		return err
	}
	if err := s.warmHashes(batch.Records); err != nil {
		return err
	}
	changes := DetectWith(s.mapping(), batch.Records, s.knownHash, &s.memo)
	if err := s.shadowMapped(changes); err != nil { // shadow mode: filtered and failed records (shadow.go)
		return err
	}
	if err := s.refuseAll(batch, changes); err != nil {
		return err
	}
	var (
		items   []outbox.Item
		queue   []queued
		inBatch map[string]string // incident → hash of its link queued by this batch
	)
	for i, c := range changes {
		s.traceChange(c)
		switch c.Outcome {
		case Failed:
			s.metrics.Records.WithLabelValues("error").Inc()
			s.log.Warn("CAD record skipped: mapping failed", "incident_id", c.IncidentID, "record", i, "err", c.Err)
		case Filtered:
			s.metrics.Records.WithLabelValues("filtered").Inc()
			s.log.Debug("CAD record filtered out", "incident_id", c.IncidentID, "reason", c.Reason)
		case Unchanged:
			s.metrics.Records.WithLabelValues("unchanged").Inc()
		case Queue:
			prev, again := inBatch[c.IncidentID]
			if !again {
				prev = s.knownHash(c.IncidentID)
			}
			if c.Hash == prev { // the same incident twice in one poll
				s.metrics.Records.WithLabelValues("unchanged").Inc()
				continue
			}
			payload, err := json.Marshal(c.Request)
			if err != nil {
				return fmt.Errorf("encode link of incident %s: %w", c.IncidentID, err)
			}
			if inBatch == nil {
				inBatch = map[string]string{}
			}
			inBatch[c.IncidentID] = c.Hash
			// The hash goes into the transaction of its link: a crash never keeps one
			// without the other (a hash without its link would skip the incident).
			items = append(items, outbox.Item{Key: c.IncidentID, Payload: payload,
				State: []outbox.StatePut{{Bucket: bucketHash, Key: c.IncidentID, Value: c.Hash}}})
			queue = append(queue, queued{id: c.IncidentID, hash: c.Hash, prev: prev})
		}
	}
	// The cursor (with its kind) is committed with the last chunk of the links it covers:
	// a crash at any point re-reads (and re-queues, harmlessly) or has everything, never
	// skips a record. A value the Source skipped, else a record's cursor refused (the last
	// guard, for Sources that do not skip), is not adopted (reported below).
	newCursor := batch.Cursor != "" && batch.Cursor != cursor
	futureNew := newCursor && inFuture(batch.Cursor)
	if newCursor && !futureNew {
		final = append(final, outbox.StatePut{Bucket: bucketCursor, Key: cadCursorKey, Value: batch.Cursor})
	}
	queuedAt := time.Now() // the trace's time of link_queued: before the delivery can start
	replaced, err := s.store.EnqueueLatestBatch(ctx, outbox.TopicLink, items, final)
	for i, r := range replaced { // the chunks committed, also when a later one failed
		s.queueLink(queue[i], r, queuedAt)
	}
	if err != nil {
		if len(items) == 0 {
			return fmt.Errorf("save CAD cursor: %w", err)
		}
		return fmt.Errorf("queue links of %d incidents (%d queued): %w", len(items), len(replaced), err)
	}
	// One report per poll: the cursor refused above, else a value the Source skipped, else
	// a stored one in the future (e.g. written by an older version, or forced by an
	// operator).
	if futureNew {
		// The records were processed; the cursor stays where it was.
		s.cursorInFuture(batch.Cursor, s.recordIncident(batch, batch.CursorFrom), false, now)
		return nil
	}
	if newCursor {
		cursor = batch.Cursor
	}
	switch {
	case batch.FutureCursor != "":
		// The Source advanced over the sane records; the skipped value is reported.
		s.cursorInFuture(batch.FutureCursor, s.recordIncident(batch, batch.FutureFrom), false, now)
		return nil
	case inFuture(cursor):
		s.cursorInFuture(cursor, "", true, now)
		return nil
	}
	if s.cursor.clear() {
		s.log.Info("CAD cursor sane again", "cursor", cursor)
	}
	return nil
}

// cursorKindPut is the state write that stores the kind the source gives its cursor when
// it changed (nil when it did not; a read per poll, a write once); an unknown kind deletes
// it. It is committed with the poll's links and cursor.
func (s *Sidecar) cursorKindPut(kind adapters.CursorKind) ([]outbox.StatePut, error) {
	old, _, err := s.store.Get(bucketCursor, cadCursorKindKey)
	if err != nil {
		return nil, fmt.Errorf("read CAD cursor kind: %w", err)
	}
	if old == string(kind) {
		return nil, nil
	}
	if kind == adapters.CursorUnknown {
		return []outbox.StatePut{{Bucket: bucketCursor, Key: cadCursorKindKey, Delete: true}}, nil
	}
	return []outbox.StatePut{{Bucket: bucketCursor, Key: cadCursorKindKey, Value: string(kind)}}, nil
}

// cursorInFuture reports a cursor later than now + cad.cursor_tolerance: counted at every
// poll; logged at WARN when it starts or changes and when readiness turns not ready.
func (s *Sidecar) cursorInFuture(value, incident string, stored bool, now time.Time) {
	s.metrics.CursorRejected.Inc()
	streak, changed := s.cursor.found(value, incident, stored, now)
	log := s.log.Debug
	if changed || streak == CursorPersistPolls {
		log = s.log.Warn
	}
	tol := s.cfg.CAD.CursorTolerance.String()
	if stored {
		log("CAD cursor stored is in the future; repair it with `cad-sidecar cursor set VALUE` or `cursor --reset`",
			"cursor", value, "tolerance", tol, "polls", streak)
		return
	}
	args := []any{"cursor", value, "tolerance", tol, "polls", streak}
	if incident != "" {
		args = append([]any{"incident_id", incident}, args...)
	}
	log("CAD cursor in the future not adopted", args...)
}

// recordIncident is the incident id of the batch's record number from (1-based, as
// Batch.CursorFrom and Batch.FutureFrom; "" if not known).
func (s *Sidecar) recordIncident(b adapters.Batch, from int) string {
	if from < 1 || from > len(b.Records) {
		return ""
	}
	id, _ := s.mapping().IncidentID(b.Records[from-1])
	return id
}

// warmHashes loads into the cache the stored hash of every incident of the batch not
// cached yet (after a restart), so that Detect compares in memory.
func (s *Sidecar) warmHashes(recs []adapters.Record) error {
	for _, rec := range recs {
		id, ok := s.mapping().IncidentID(rec)
		if !ok {
			continue
		}
		if _, cached := s.hashes.get(id); cached {
			continue
		}
		h, _, err := s.store.Get(bucketHash, id)
		if err != nil {
			return fmt.Errorf("read hash of incident %s: %w", id, err)
		}
		s.hashes.set(id, h)
	}
	return nil
}

func (s *Sidecar) knownHash(id string) string {
	h, _ := s.hashes.get(id)
	return h
}

// queued is a link takeBatch queues: its incident, the hash of its request and the hash
// of the last link queued before it ("" if none).
type queued struct{ id, hash, prev string }

// queueLink records a link takeBatch committed (with its hash): the hash cache, the metric
// and the log line of the incident. replaced: it replaced an unsent older link.
func (s *Sidecar) queueLink(q queued, replaced bool, at time.Time) {
	id := q.id
	s.traceLinkQueued(id, replaced, at)
	if replaced {
		s.log.Debug("unsent link replaced by the newer state", "incident_id", id)
	}
	s.hashes.set(id, q.hash)
	s.metrics.Records.WithLabelValues("queued").Inc()
	if q.prev == "" {
		s.log.Info("incident queued for linking", "incident_id", id)
	} else {
		s.log.Info("incident changed, queued for re-linking", "incident_id", id)
	}
}

// deliverLink sends one queued link to Assist and stores the callId it returns.
func (s *Sidecar) deliverLink(ctx context.Context, m outbox.Message) error {
	var req assist.LinkIncidentRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		return delivery.Permanent(fmt.Errorf("stored link of incident %s is not valid JSON: %w", m.Key, err))
	}
	if s.shadowAll() { // shadow mode all: the request goes to the shadow file, not to Assist
		return s.shadowLink(req, "")
	}
	s.trace.add(req.IncidentID, TraceEvent{Kind: traceLinkSent, Detail: fmt.Sprintf("attempt %d", m.Attempts+1)})
	resp, err := s.client.LinkIncident(ctx, req)
	s.traceLinkAnswer(req.IncidentID, resp.CallID, m.Attempts+1, err)
	if err != nil {
		s.metrics.Links.WithLabelValues("error").Inc()
		s.log.Warn("link to Assist failed", "incident_id", req.IncidentID, "attempt", m.Attempts+1, "err", err)
		return err
	}
	s.metrics.Links.WithLabelValues("ok").Inc()
	s.metrics.Ops.LinkLatency.Observe(max(time.Since(m.CreatedAt).Seconds(), 0))
	link := outbox.Link{IncidentID: req.IncidentID, CallID: resp.CallID, UserID: req.UserID}
	// The call id is committed with the ack of this message (one commit, and never the ack
	// without it) unless what follows reads the link back (activation and call-status
	// notes; the call notes' check for a call that ended before its link).
	m2 := s.mapping()
	if m2.ActivationNotes() || m2.CallStatusNotes() || m2.SummaryNotes() || m2.TranscriptNotes() || !outbox.PutLinkWithAck(ctx, link) {
		if err := s.store.PutLink(link); err != nil {
			return fmt.Errorf("store link %s ↔ %s: %w", req.IncidentID, resp.CallID, err)
		}
	}
	s.log.Info("incident linked", "incident_id", req.IncidentID, "call_id", resp.CallID)
	if s.shadow != nil {
		if err := s.shadowLink(req, resp.CallID); err != nil {
			return err
		}
	}
	if err := s.callNotes.linked(req.IncidentID); err != nil { // a call that ended before its link (callnotes.go)
		return err
	}
	if s.mapping().ActivationNotes() {
		if err := s.flushActivations(ctx, resp.CallID, req.IncidentID); err != nil {
			return err
		}
	}
	if s.mapping().CallStatusNotes() {
		// A status that came before the link was kept by the store and is now applied:
		// write its note now (the idempotency key makes a second one harmless).
		if l, ok, err := s.store.GetLink(req.IncidentID); err == nil && ok && l.Status != "" {
			return s.queueStatusNote(ctx, l.CallID, l.IncidentID, l.Status, l.UpdatedAt)
		}
	}
	return nil
}

// refuseAll is the AllOrNothing rule: when the mapping refused a record of such a batch,
// each refused record is logged and counted as a skipped one would be, and the batch is
// refused whole (*adapters.Refused) before anything is queued.
func (s *Sidecar) refuseAll(batch adapters.Batch, changes []Change) error {
	if !batch.AllOrNothing {
		return nil
	}
	var refused adapters.Refused
	for i, c := range changes {
		if c.Outcome != Failed {
			continue
		}
		s.metrics.Records.WithLabelValues("error").Inc()
		s.log.Warn("CAD record refused: mapping failed; its batch is not stored", "incident_id", c.IncidentID, "record", i, "err", c.Err)
		refused.Records = append(refused.Records, adapters.RefusedRecord{Index: i, IncidentID: c.IncidentID, Reason: c.Err.Error()})
	}
	if len(refused.Records) > 0 {
		return &refused
	}
	return nil
}
