package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// handleEvent is the webhook receiver's durable step: it returns nil only once the event is
// on disk (or known to be a duplicate).
func (s *Sidecar) handleEvent(ctx context.Context, ev assist.Event) error {
	switch ev.Kind {
	case assist.EventNote:
		s.metrics.Webhooks.WithLabelValues("note").Inc()
		return s.queueNote(ctx, "push", *ev.Note)
	case assist.EventCallStatus:
		s.metrics.Webhooks.WithLabelValues("call_status").Inc()
		st := ev.Status
		l, known, err := s.store.SetCallStatus(st.CallID, st.Status, time.Now())
		if err != nil {
			return fmt.Errorf("store status of call %s: %w", st.CallID, err)
		}
		if known {
			s.log.Info("call "+lower(st.Status), "call_id", st.CallID, "incident_id", l.IncidentID)
		} else {
			s.log.Info("call "+lower(st.Status)+" (not linked yet)", "call_id", st.CallID)
		}
		return nil
	case assist.EventActivation:
		s.metrics.Webhooks.WithLabelValues("activation").Inc()
		a := ev.Activation
		s.log.Info("assistant activated", "call_id", a.CallID, "assistant_id", a.AssistantID)
		return nil
	}
	return fmt.Errorf("unknown event kind %v", ev.Kind)
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

// queueNote stores a note in the outbox, deduplicated by its idempotency keys.
func (s *Sidecar) queueNote(ctx context.Context, via string, p assist.IncidentNotePayload) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode note: %w", err)
	}
	fresh, err := s.store.Enqueue(ctx, outbox.TopicNote, p.IncidentID, payload, assist.NoteKeys(p.CallID, p.Note)...)
	if err != nil {
		if errors.Is(err, outbox.ErrFull) {
			s.log.Error("outbox full: refusing note (Assist will retry)", "incident_id", p.IncidentID, "call_id", p.CallID)
		}
		return fmt.Errorf("queue note for incident %s: %w", p.IncidentID, err)
	}
	if !fresh {
		s.metrics.NotesReceived.WithLabelValues(via, "duplicate").Inc()
		s.log.Debug("duplicate note dropped", "incident_id", p.IncidentID, "call_id", p.CallID, "via", via)
		return nil
	}
	s.metrics.NotesReceived.WithLabelValues(via, "queued").Inc()
	s.log.Info("note received", "incident_id", p.IncidentID, "call_id", p.CallID, "type", p.Note.Type,
		"critical", p.Note.Critical, "via", via)
	return nil
}

// deliverNote renders one queued note and writes it into the CAD.
func (s *Sidecar) deliverNote(ctx context.Context, m outbox.Message) error {
	var p assist.IncidentNotePayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return outbox.Permanent(fmt.Errorf("stored note is not valid JSON: %w", err))
	}
	n := adapters.Note{
		IncidentID: p.IncidentID, CallID: p.CallID, Type: p.Note.Type, Note: p.Note.Note,
		Critical: p.Note.Critical, CreatedAt: p.Note.CreatedAt, Key: assist.PushedNoteKey(p.CallID, p.Note),
	}
	if l, ok, err := s.store.GetLink(p.IncidentID); err == nil && ok {
		n.UserID = l.UserID
	}
	text, err := s.mapper.RenderNote(n)
	if err != nil {
		s.metrics.NoteErrors.WithLabelValues("permanent").Inc()
		return outbox.Permanent(fmt.Errorf("render mapping.note.text for incident %s: %w", p.IncidentID, err))
	}
	n.Text = text
	if err := s.sink.WriteNote(ctx, n); err != nil {
		kind := "transient"
		if outbox.IsPermanent(err) {
			kind = "permanent"
		}
		s.metrics.NoteErrors.WithLabelValues(kind).Inc()
		s.log.Warn("writing note to CAD failed", "incident_id", p.IncidentID, "kind", kind, "attempt", m.Attempts+1, "err", err)
		return err
	}
	s.metrics.NotesDelivered.Inc()
	s.log.Info("note written to CAD", "incident_id", p.IncidentID, "type", p.Note.Type, "critical", p.Note.Critical)
	return nil
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
	for _, l := range links {
		if ctx.Err() != nil {
			return
		}
		if l.CallID == "" || (l.Status == assist.CallEnded && now.Sub(l.EndedAt) > s.cfg.Assist.Pull.Grace) {
			continue
		}
		if err := s.pullCall(ctx, l); err != nil && ctx.Err() == nil {
			s.log.Warn("notes pull failed", "call_id", l.CallID, "incident_id", l.IncidentID, "err", err)
		}
	}
}

func (s *Sidecar) pullCall(ctx context.Context, l outbox.Link) error {
	key := "notes/" + l.CallID
	cursor, _, err := s.store.Get(bucketCursor, key)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	page, err := s.client.Notes(ctx, l.CallID, cursor)
	if err != nil {
		return err
	}
	for _, n := range page.Notes {
		if err := s.queueNote(ctx, "pull", assist.IncidentNotePayload{CallID: l.CallID, IncidentID: l.IncidentID, Note: n}); err != nil {
			return err
		}
	}
	if page.Cursor != "" && page.Cursor != cursor {
		if err := s.store.Put(bucketCursor, key, page.Cursor); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
	}
	return nil
}
