package sidecar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// queuedNote is what the note topic stores: an Assist note, or (when mapping.note enables
// them) a call status change or an assistant activation to be written as an INFO note.
type queuedNote struct {
	assist.IncidentNotePayload
	// Event is "" for an Assist note, "call_status" or "activation".
	Event      string                             `json:"event,omitempty"`
	Status     string                             `json:"status,omitempty"`
	At         string                             `json:"at,omitempty"`
	Activation *assist.AssistantActivationWebhook `json:"activation,omitempty"`
	// Transcript holds the segments of a call's transcript (Event "transcript").
	Transcript []adapters.TranscriptSegment `json:"transcript,omitempty"`
	// Key is the Idempotency-Key the note is written with ("#i/n" added per part when it is
	// split), fixed at enqueue (notekey.go). Empty in payloads queued by older versions.
	Key string `json:"key,omitempty"`
}

// bucketParts remembers, per queued message, how many parts of a split note the CAD has
// accepted, so a retry does not write them again.
const bucketParts = "note_parts"

// handleEvent is the webhook receiver's durable step: it returns nil only once the event is
// on disk (or known to be a duplicate).
func (s *Sidecar) handleEvent(ctx context.Context, ev assist.Event) error {
	var err error
	switch ev.Kind {
	case assist.EventNote:
		err = s.queueNote(ctx, "push", *ev.Note)
	case assist.EventCallStatus:
		err = s.callStatus(ctx, *ev.Status)
	case assist.EventActivation:
		err = s.activation(ctx, *ev.Activation)
	default:
		return fmt.Errorf("unknown event kind %v", ev.Kind)
	}
	if err == nil { // counted once accepted: a refused (503/500) event is not
		s.metrics.Webhooks.WithLabelValues(ev.Kind.String()).Inc()
	}
	return err
}

func (s *Sidecar) callStatus(ctx context.Context, st assist.CallStatusUpdateWebhook) error {
	now := time.Now().UTC()
	l, known, err := s.store.SetCallStatus(st.CallID, st.Status, now)
	if err != nil {
		if errors.Is(err, outbox.ErrFull) { // only a status kept for a call not linked yet
			s.log.Error("outbox full: refusing call status (Assist will retry)", "call_id", st.CallID)
		}
		return fmt.Errorf("store status of call %s: %w", st.CallID, err)
	}
	if !known {
		s.log.Info("call "+lower(st.Status)+" (not linked yet)", "call_id", st.CallID)
		return nil
	}
	s.log.Info("call "+lower(st.Status), "call_id", st.CallID, "incident_id", l.IncidentID)
	if st.Status == assist.CallEnded {
		if err := s.callNotes.ended(st.CallID, l.IncidentID, l.EndedAt); err != nil {
			return err
		}
	}
	s.traceCallStatus(l.IncidentID, st.CallID, st.Status)
	if !s.mapping().CallStatusNotes() {
		return nil
	}
	return s.queueStatusNote(ctx, st.CallID, l.IncidentID, st.Status, now)
}

// queueStatusNote queues the CAD note of a call status change (mapping.note.call_status).
func (s *Sidecar) queueStatusNote(ctx context.Context, callID, incidentID, status string, at time.Time) error {
	q := queuedNote{Event: "call_status", Status: status, At: at.UTC().Format(time.RFC3339)}
	q.CallID, q.IncidentID = callID, incidentID
	return s.enqueueNote(ctx, "push", q, "status:"+callID+"/"+status)
}

func (s *Sidecar) activation(ctx context.Context, a assist.AssistantActivationWebhook) error {
	s.log.Info("assistant activated", "call_id", a.CallID, "assistant_id", a.AssistantID)
	if !s.mapping().ActivationNotes() {
		return nil
	}
	l, known, err := s.store.LinkByCall(a.CallID)
	if err != nil {
		return fmt.Errorf("read link of call %s: %w", a.CallID, err)
	}
	at := time.Now().UTC().Format(time.RFC3339)
	if !known {
		// The call is not linked yet (the incident is often created during the call): keep
		// the activation; deliverLink writes its note once the link exists.
		return s.keepActivation(a, at)
	}
	return s.queueActivationNote(ctx, l.IncidentID, a, at)
}

func (s *Sidecar) queueActivationNote(ctx context.Context, incidentID string, a assist.AssistantActivationWebhook, at string) error {
	q := queuedNote{Event: "activation", At: at, Activation: &a}
	q.CallID, q.IncidentID = a.CallID, incidentID
	return s.enqueueNote(ctx, "push", q, activationKey(a))
}

// unlinkedActivation is the outbox's unlinked state (per call id) holding the activations
// that came before the call's link: counted toward outbox.max_bytes and forgotten after
// outbox.unlinked_retention (janitor.go).
const unlinkedActivation = "activation"

// legacyActivations is the generic state bucket where earlier versions kept them; New
// adopts its entries as unlinked state.
const legacyActivations = "pending_activation"

type pendingActivation struct {
	Activation assist.AssistantActivationWebhook `json:"activation"`
	At         string                            `json:"at"`
}

func (s *Sidecar) keepActivation(a assist.AssistantActivationWebhook, at string) error {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	list, err := s.pendingActivations(a.CallID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(append(list, pendingActivation{Activation: a, At: at}))
	if err != nil {
		return fmt.Errorf("encode activation: %w", err)
	}
	if err := s.store.KeepUnlinked(unlinkedActivation, a.CallID, b); err != nil {
		if errors.Is(err, outbox.ErrFull) {
			s.log.Error("outbox full: refusing activation (Assist will retry)", "call_id", a.CallID)
		}
		return fmt.Errorf("keep activation of call %s: %w", a.CallID, err)
	}
	s.log.Info("assistant activation kept until the call is linked", "call_id", a.CallID)
	return nil
}

func (s *Sidecar) pendingActivations(callID string) ([]pendingActivation, error) {
	v, _, ok, err := s.store.Unlinked(unlinkedActivation, callID)
	if err != nil || !ok {
		return nil, err
	}
	var list []pendingActivation
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("activations kept for call %s: %w", callID, err)
	}
	return list, nil
}

// flushActivations queues the notes of the activations kept for a call that is now linked.
func (s *Sidecar) flushActivations(ctx context.Context, callID, incidentID string) error {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	list, err := s.pendingActivations(callID)
	if err != nil || len(list) == 0 {
		return err
	}
	for _, p := range list {
		if err := s.queueActivationNote(ctx, incidentID, p.Activation, p.At); err != nil {
			return err
		}
	}
	return s.store.DropUnlinked(unlinkedActivation, callID)
}

// activationKey is an activation note's idempotency key.
func activationKey(a assist.AssistantActivationWebhook) string {
	sum := sha256.Sum256([]byte(a.AssistantName + "\x00" + a.AssistantActivationExplanation))
	return "activation:" + a.CallID + "/" + strconv.FormatInt(a.AssistantID, 10) + "/" + hex.EncodeToString(sum[:8])
}

func lower(status string) string {
	switch status {
	case assist.CallStarted:
		return "started"
	case assist.CallEnded:
		return "ended"
	}
	return "status " + status
}

// queueNote stores an Assist note in the outbox, deduplicated by its idempotency keys.
func (s *Sidecar) queueNote(ctx context.Context, via string, p assist.IncidentNotePayload) error {
	if err := s.enqueueNote(ctx, via, queuedNote{IncidentNotePayload: p}, assist.NoteKeys(p.IncidentID, p.CallID, p.Note)...); err != nil {
		return err
	}
	if p.Note.Type == assist.NoteCallCompleted {
		return s.callNotes.completed(p.CallID) // no summary fallback for this call (callnotes.go)
	}
	return nil
}

func (s *Sidecar) enqueueNote(ctx context.Context, via string, q queuedNote, keys ...string) error {
	q.Key = idempotencyKey(q)
	payload, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode note: %w", err)
	}
	enqueue := s.store.Enqueue
	if (q.Event == "" || q.Event == eventSummary) && q.Note.Critical {
		// A critical note does not wait long behind a note the CAD keeps refusing: see
		// outbox.Options.UrgentAttempts.
		enqueue = s.store.EnqueueUrgent
	}
	received := time.Now() // the trace's note_received: a delivery may write the note before enqueue returns
	fresh, err := enqueue(ctx, outbox.TopicNote, q.IncidentID, payload, keys...)
	if err != nil {
		if errors.Is(err, outbox.ErrFull) {
			s.log.Error("outbox full: refusing note (Assist will retry)", "incident_id", q.IncidentID, "call_id", q.CallID)
		}
		return fmt.Errorf("queue note for incident %s: %w", q.IncidentID, err)
	}
	s.traceNoteReceived(q, via, fresh, received)
	if !fresh {
		s.metrics.NotesReceived.WithLabelValues(via, "duplicate").Inc()
		s.log.Debug("duplicate note dropped", "incident_id", q.IncidentID, "call_id", q.CallID, "via", via)
		return nil
	}
	s.metrics.NotesReceived.WithLabelValues(via, "queued").Inc()
	switch q.Event {
	case "":
		s.log.Info("note received", "incident_id", q.IncidentID, "call_id", q.CallID, "type", q.Note.Type,
			"critical", q.Note.Critical, "via", via)
	case eventSummary, eventTranscript: // their INFO line is the runner's (callnotes_fetch.go)
		s.log.Debug(q.Event+" note queued", "incident_id", q.IncidentID, "call_id", q.CallID)
	default:
		s.log.Info(q.Event+" note queued", "incident_id", q.IncidentID, "call_id", q.CallID)
	}
	return nil
}

// deliverNote renders one queued note and writes it into the CAD — as several notes, in
// order, when mapping.note.max_length splits it. Parts the CAD accepted are remembered, so
// a retry goes on with the next part instead of writing them again.
func (s *Sidecar) deliverNote(ctx context.Context, m outbox.Message) error {
	var q queuedNote
	if err := json.Unmarshal(m.Payload, &q); err != nil {
		return delivery.Permanent(fmt.Errorf("stored note of incident %s is not valid JSON: %w", m.Key, err))
	}
	s.traceNoteAttempt(q, m)
	if tw, ok := s.sink.(adapters.TranscriptWriter); ok && q.Event == eventTranscript {
		return s.deliverTranscriptFile(ctx, m, q, tw) // a file beside the notes (callnotes_fetch.go)
	}
	n, parts, err := s.renderNote(q)
	if err != nil {
		s.metrics.NoteErrors.WithLabelValues("permanent").Inc()
		return delivery.Permanent(fmt.Errorf("render the note for incident %s: %w", q.IncidentID, err))
	}
	progressKey := string(m.Topic) + "/" + strconv.FormatUint(m.Seq, 10)
	done := 0
	if len(parts) > 1 {
		if v, ok, err := s.store.Get(bucketParts, progressKey); err != nil {
			return fmt.Errorf("read progress of note %s: %w", progressKey, err)
		} else if ok {
			done, _ = strconv.Atoi(v)
		}
	}
	baseKey := n.Key
	for i := done; i < len(parts); i++ {
		if i > done && ctx.Err() != nil {
			return ctx.Err() // stopping: the parts written are saved, the rest waits
		}
		n.Text = parts[i]
		if len(parts) > 1 {
			n.Key = fmt.Sprintf("%s#%d/%d", baseKey, i+1, len(parts))
		}
		wctx, release := inFlight(ctx, writeStopGrace) // a stop lets a sent write be answered
		err := s.sink.WriteNote(wctx, n)
		release()
		s.traceNoteWrite(q, m, i, len(parts), err)
		if err != nil {
			kind := "transient"
			if delivery.IsPermanent(err) {
				kind = "permanent"
			}
			s.metrics.NoteErrors.WithLabelValues(kind).Inc()
			s.writes.failed(time.Now(), err)
			s.log.Warn("writing note to CAD failed", "incident_id", q.IncidentID, "kind", kind, "attempt", m.Attempts+1, "part", i+1, "parts", len(parts), "err", err)
			return err
		}
		s.writes.accepted()
		if len(parts) > 1 && i+1 < len(parts) {
			if err := s.store.Put(bucketParts, progressKey, strconv.Itoa(i+1)); err != nil {
				return fmt.Errorf("save progress of note %s: %w", progressKey, err)
			}
		}
	}
	if done > 0 || len(parts) > 1 {
		if err := s.store.Delete(bucketParts, progressKey); err != nil {
			s.log.Warn("clear progress of a split note", "key", progressKey, "err", err)
		}
	}
	s.metrics.NotesDelivered.Inc()
	s.traceNoteDelivered(q, len(parts))
	now := time.Now()
	s.metrics.Ops.cadContact(now)
	s.metrics.Ops.NoteDelivery.Observe(max(now.Sub(m.CreatedAt).Seconds(), 0))
	msg := "note written to CAD"
	if s.readOnly {
		msg = "note written to the read-only notes file (not to the CAD)"
	} else if s.shadow != nil {
		msg = "note written to the shadow file (not to the CAD)"
	}
	s.log.Info(msg, "incident_id", q.IncidentID, "type", n.Type, "critical", n.Critical, "parts", len(parts))
	return nil
}

// renderNote turns a queued note into the sink's Note and the text parts to write.
func (s *Sidecar) renderNote(q queuedNote) (adapters.Note, []string, error) {
	n := adapters.Note{IncidentID: q.IncidentID, CallID: q.CallID, Key: deliveryKey(q)}
	if l, ok, err := s.store.GetLink(q.IncidentID); err == nil && ok {
		n.UserID = l.UserID
	}
	switch q.Event {
	case "", eventSummary, eventTranscript:
		n.Type, n.Note, n.Critical, n.CreatedAt = q.Note.Type, q.Note.Note, q.Note.Critical, q.Note.CreatedAt
		parts, err := s.mapping().RenderNoteParts(n)
		return n, parts, err
	case "call_status":
		n.Type, n.CreatedAt = assist.NoteInfo, q.At
		parts, err := s.mapping().RenderCallStatus(mapping.CallStatusData{
			IncidentID: n.IncidentID, CallID: n.CallID, UserID: n.UserID, Status: q.Status, At: q.At})
		return n, parts, err
	case "activation":
		a := q.Activation
		if a == nil {
			return n, nil, errors.New("activation note without its activation")
		}
		n.Type, n.CreatedAt = assist.NoteInfo, q.At
		parts, err := s.mapping().RenderActivation(mapping.ActivationData{
			IncidentID: n.IncidentID, CallID: n.CallID, UserID: n.UserID, AssistantID: a.AssistantID,
			AssistantName: a.AssistantName, Explanation: a.AssistantActivationExplanation, At: q.At})
		return n, parts, err
	}
	return n, nil, fmt.Errorf("unknown queued event %q", q.Event)
}

// pullNotes polls Assist for the notes of every linked call that has not ended (or ended
// less than assist.pull.grace ago), from each call's stored cursor.
func (s *Sidecar) pullNotes(ctx context.Context) {
	links, err := s.store.Links()
	if err != nil {
		s.log.Error("notes pull: read links", "err", err)
		return
	}
	now := time.Now()
	var round pullRound
	defer func() {
		if ctx.Err() == nil {
			s.pullFails.end(s.log, time.Now(), round)
		}
	}()
	for _, l := range links {
		if ctx.Err() != nil {
			return
		}
		switch {
		case l.CallID == "":
			continue
		case l.Status == assist.CallEnded:
			if now.Sub(l.EndedAt) > s.cfg.Assist.Pull.Grace {
				continue
			}
		case now.Sub(l.LinkedAt) > s.cfg.Assist.Pull.MaxAge:
			continue // no end seen (pull-only has no webhook): a call does not last this long
		}
		round.pulled++
		if err := s.pullCall(ctx, l); err != nil && ctx.Err() == nil {
			s.pullFails.fail(s.log, s.log.With("call_id", l.CallID, "incident_id", l.IncidentID), time.Now(), &round, err)
		}
		if l.Status != assist.CallEnded {
			s.callNotes.checkEnded(ctx, l) // pull-only: did the call end? (callnotes_pull.go)
		}
	}
}

func (s *Sidecar) pullCall(ctx context.Context, l outbox.Link) error {
	key := "notes/" + l.CallID
	cursor, _, err := s.store.Get(bucketCursor, key)
	if err != nil {
		return localPullError{fmt.Errorf("read cursor: %w", err)}
	}
	page, err := s.client.Notes(ctx, l.CallID, cursor)
	if err != nil {
		return err
	}
	// A note of the page Assist should not have sent is skipped, so it cannot hold up the
	// call's other notes and cursor; it is counted, and logged without its id or text.
	for _, r := range page.Refused {
		s.metrics.NotesReceived.WithLabelValues("pull", "refused").Inc()
		s.log.Warn("pulled note refused", "call_id", l.CallID, "incident_id", l.IncidentID, "reason", r.Reason)
	}
	for _, n := range page.Notes {
		if err := s.queueNote(ctx, "pull", assist.IncidentNotePayload{CallID: l.CallID, IncidentID: l.IncidentID, Note: n}); err != nil {
			return localPullError{err}
		}
	}
	if page.Cursor != "" && page.Cursor != cursor {
		if err := s.store.Put(bucketCursor, key, page.Cursor); err != nil {
			return localPullError{fmt.Errorf("save cursor: %w", err)}
		}
	}
	return nil
}
