package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Events of the queued notes made from a call (queuedNote.Event).
const (
	eventSummary    = "summary"    // a CALL_COMPLETED note from the call's summary
	eventTranscript = "transcript" // the call's transcript (a note, or a file: TranscriptWriter)
)

// summaryKey and transcriptKey are the idempotency keys of a call's own notes.
func summaryKey(callID string) string    { return "summary:" + callID }
func transcriptKey(callID string) string { return "transcript:" + callID }

// process does the due work of one call: the summary (unless a CALL_COMPLETED note came),
// the transcript, or both, from one GET /call.
func (r *callNoteRunner) process(ctx context.Context, callID string) {
	e, ok := r.entry(callID)
	if !ok || !e.pending() {
		return
	}
	log := r.s.log.With("call_id", callID, "incident_id", e.IncidentID)
	if e.Summary == cnPending && !e.CompletedAt.IsZero() {
		r.s.metrics.CallNotes.Summaries.WithLabelValues("not_needed").Inc()
		r.finish(callID, true, false)
		e.Summary = cnDone
	}
	needSummary, needTranscript := e.Summary == cnPending, e.Transcript == cnPending
	if !needSummary && !needTranscript {
		return
	}
	call, err := r.s.client.GetCall(ctx, callID)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		r.fetchFailed(log, callID, e, needSummary, needTranscript, err)
		return
	}
	r.mu.Lock()
	delete(r.next, callID)
	r.mu.Unlock()
	userID := ""
	if l, ok, err := r.s.store.GetLink(e.IncidentID); err == nil && ok {
		userID = l.UserID
	}
	if needSummary {
		if r.queueSummary(ctx, log, callID, e, userID, call) {
			r.finish(callID, true, false)
		}
	}
	if needTranscript {
		if r.queueTranscript(ctx, log, callID, e, userID, call) {
			r.finish(callID, false, true)
		}
	}
}

// entry returns a copy of a call's state.
func (r *callNoteRunner) entry(callID string) (callEnd, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.load()
	if err != nil {
		r.s.log.Error("call notes: read state", "call_id", callID, "err", err)
		return callEnd{}, false
	}
	e, ok := m[callID]
	if !ok {
		return callEnd{}, false
	}
	return *e, true
}

// finish marks the summary and/or the transcript of a call done.
func (r *callNoteRunner) finish(callID string, summary, transcript bool) {
	err := r.update(func(m map[string]*callEnd) bool {
		e := m[callID]
		if e == nil {
			return false
		}
		if summary {
			e.Summary = cnDone
		}
		if transcript && e.Transcript == cnPending {
			e.Transcript = cnDone
		}
		r.settle(e)
		return true
	})
	if err != nil {
		// Not written: it is done again after the restart, and dropped as a duplicate.
		r.s.log.Error("call notes: save state", "call_id", callID, "err", err)
	}
}

// fetchFailed retries a failed GET /call later, or gives it up: a permanent failure, or
// outbox.max_age since the call ended.
func (r *callNoteRunner) fetchFailed(log *slog.Logger, callID string, e callEnd, summary, transcript bool, err error) {
	kind := "transient"
	if delivery.IsPermanent(err) {
		kind = "permanent"
	}
	r.s.metrics.CallNotes.FetchErrors.WithLabelValues(kind).Inc()
	attempts := e.Attempts + 1
	if kind == "permanent" || r.now().Sub(e.EndedAt) > r.s.cfg.Outbox.MaxAge {
		log.Error("call summary/transcript given up: fetching the call failed", "attempts", attempts, "kind", kind, "err", err)
		if summary {
			r.s.metrics.CallNotes.Summaries.WithLabelValues("given_up").Inc()
		}
		if transcript {
			r.s.metrics.CallNotes.Transcripts.WithLabelValues("given_up").Inc()
		}
		r.finish(callID, summary, transcript)
		return
	}
	wait := r.backoff(attempts)
	if d, ok := delivery.RetryDelay(err); ok && d > wait {
		wait = d
	}
	log.Warn("fetching the call for its summary/transcript failed, will retry", "attempt", attempts, "retry_in", wait.Round(time.Millisecond).String(), "err", err)
	r.mu.Lock()
	r.next[callID] = r.now().Add(wait)
	r.mu.Unlock()
	if err := r.update(func(m map[string]*callEnd) bool {
		if x := m[callID]; x != nil {
			x.Attempts = attempts
			return true
		}
		return false
	}); err != nil {
		log.Error("call notes: save state", "err", err)
	}
}

// queueSummary queues the call's summary as a CALL_COMPLETED note. It reports whether the
// summary is settled (queued, not needed, nothing to say, or impossible to render).
func (r *callNoteRunner) queueSummary(ctx context.Context, log *slog.Logger, callID string, e callEnd, userID string, call assist.FullCallDto) bool {
	metric := r.s.metrics.CallNotes.Summaries
	if cur, ok := r.entry(callID); ok && !cur.CompletedAt.IsZero() {
		metric.WithLabelValues("not_needed").Inc() // it came while the call was fetched
		return true
	}
	var cs assist.CallSummary
	if call.Summary != nil {
		cs = *call.Summary
	}
	text, critical, err := r.s.mapping().RenderSummary(mapping.SummaryData{IncidentID: e.IncidentID, CallID: callID, UserID: userID,
		Title: cs.Title, Summary: cs.Summary, Nature: cs.Nature, Location: cs.Location, Severity: cs.Severity,
		Hazards: cs.Hazards, TimeSensitivity: cs.TimeSensitivity, CallerInfo: cs.CallerInfo, SuspectDetails: cs.SuspectDetails,
		AncillaryServices: cs.AncillaryServices, AdditionalRemarks: cs.AdditionalRemarks})
	switch {
	case err != nil:
		metric.WithLabelValues("given_up").Inc()
		log.Error("call summary given up: rendering mapping.note.summary failed", "err", err)
		return true
	case text == "":
		metric.WithLabelValues("empty").Inc()
		log.Info("call ended without a CALL_COMPLETED note, and Assist has no summary of it")
		return true
	}
	q := queuedNote{Event: eventSummary}
	q.CallID, q.IncidentID = callID, e.IncidentID
	q.Note = assist.IncidentNote{Type: assist.NoteCallCompleted, Note: text, Critical: critical, CreatedAt: e.EndedAt.UTC().Format(time.RFC3339)}
	// Logged before the enqueue: once queued, the note may be written (and logged) at once.
	log.Info("no CALL_COMPLETED note within the grace: the call's summary is queued as one", "critical", critical)
	if err := r.s.enqueueNote(ctx, eventSummary, q, summaryKey(callID)); err != nil {
		log.Warn("queueing the call summary failed, will retry", "err", err)
		r.retrySoon(callID)
		return false
	}
	metric.WithLabelValues("queued").Inc()
	return true
}

// queueTranscript queues the call's final transcript. It reports whether it is settled.
func (r *callNoteRunner) queueTranscript(ctx context.Context, log *slog.Logger, callID string, e callEnd, userID string, call assist.FullCallDto) bool {
	metric := r.s.metrics.CallNotes.Transcripts
	segs := call.FinalSegments()
	if len(segs) == 0 {
		metric.WithLabelValues("empty").Inc()
		log.Info("call ended with no transcript segments")
		return true
	}
	d := mapping.TranscriptData{IncidentID: e.IncidentID, CallID: callID, UserID: userID}
	out := make([]adapters.TranscriptSegment, 0, len(segs))
	for _, s := range segs {
		role := strings.TrimSpace(s.ParticipantRole)
		if role == "" {
			role = "UNKNOWN"
		}
		d.Segments = append(d.Segments, mapping.TranscriptSegment{Role: role, Start: s.StartTime, End: s.EndTime,
			Offset: mapping.FormatOffset(s.StartTime), Lang: s.LangCode, Text: s.Text, Translated: s.TranslatedText})
		out = append(out, adapters.TranscriptSegment{Role: role, Start: s.StartTime, End: s.EndTime, Lang: s.LangCode,
			Text: s.Text, Translated: s.TranslatedText})
	}
	text, err := r.s.mapping().RenderTranscript(d)
	if err != nil {
		metric.WithLabelValues("given_up").Inc()
		log.Error("call transcript given up: rendering mapping.note.transcript failed", "err", err)
		return true
	}
	q := queuedNote{Event: eventTranscript, Transcript: out}
	q.CallID, q.IncidentID = callID, e.IncidentID
	q.Note = assist.IncidentNote{Type: assist.NoteInfo, Note: text, CreatedAt: e.EndedAt.UTC().Format(time.RFC3339)}
	log.Info("call transcript queued", "segments", len(segs)) // before: it may be written at once
	if err := r.s.enqueueNote(ctx, eventTranscript, q, transcriptKey(callID)); err != nil {
		log.Warn("queueing the call transcript failed, will retry", "err", err)
		r.retrySoon(callID)
		return false
	}
	metric.WithLabelValues("queued").Inc()
	return true
}

// retrySoon tries a call again after the first backoff step (the outbox refused a write).
func (r *callNoteRunner) retrySoon(callID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queueFails[callID]++
	r.next[callID] = r.now().Add(r.backoff(r.queueFails[callID]))
}

// deliverTranscriptFile hands a queued transcript to a sink that keeps transcripts as
// files (adapters.TranscriptWriter) instead of writing it as a note.
func (s *Sidecar) deliverTranscriptFile(ctx context.Context, m outbox.Message, q queuedNote, tw adapters.TranscriptWriter) error {
	attempt := m.Attempts + 1
	t := adapters.Transcript{IncidentID: q.IncidentID, CallID: q.CallID, Key: deliveryKey(q), CreatedAt: q.Note.CreatedAt,
		Text: q.Note.Note, Segments: q.Transcript}
	if l, ok, err := s.store.GetLink(q.IncidentID); err == nil && ok {
		t.UserID = l.UserID
	}
	if err := tw.WriteTranscript(ctx, t); err != nil {
		kind := "transient"
		if delivery.IsPermanent(err) {
			kind = "permanent"
		}
		s.metrics.NoteErrors.WithLabelValues(kind).Inc()
		s.writes.failed(time.Now(), err)
		s.log.Warn("writing the call transcript failed", "incident_id", q.IncidentID, "call_id", q.CallID, "kind", kind, "attempt", attempt, "err", err)
		return fmt.Errorf("transcript of call %s: %w", q.CallID, err)
	}
	s.writes.accepted()
	s.metrics.NotesDelivered.Inc()
	now := time.Now()
	s.metrics.Ops.cadContact(now)
	s.metrics.Ops.NoteDelivery.Observe(max(now.Sub(m.CreatedAt).Seconds(), 0))
	s.log.Info("call transcript written", "incident_id", q.IncidentID, "call_id", q.CallID, "segments", len(q.Transcript))
	return nil
}
