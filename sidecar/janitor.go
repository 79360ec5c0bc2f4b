package sidecar

import (
	"context"
	"time"
)

// pruneState forgets incidents whose last change (or call end) is older than
// outbox.state_retention: their link, content hash, notes cursor and trace (and the traces
// of incidents never linked that saw no event for that long). The file then stays
// bounded over years. An incident polled again after that is linked again, as a new one.
// It also expires unlinked state (expireUnlinked).
func (s *Sidecar) pruneState(ctx context.Context) {
	s.expireUnlinked()
	links, err := s.store.Links()
	if err != nil {
		s.log.Error("state pruning: read links", "err", err)
		return
	}
	cutoff := time.Now().Add(-s.cfg.Outbox.StateRetention)
	pruned := 0
	for _, l := range links {
		if ctx.Err() != nil {
			return
		}
		last := l.UpdatedAt
		if l.EndedAt.After(last) {
			last = l.EndedAt
		}
		if !last.Before(cutoff) {
			continue
		}
		s.trace.forget(l.IncidentID)
		state := [][2]string{{bucketHash, l.IncidentID}}
		if l.CallID != "" {
			state = append(state, [2]string{bucketCursor, "notes/" + l.CallID})
		}
		if err := s.store.DeleteJournal(traceJournal, l.IncidentID); err != nil {
			s.log.Error("state pruning: incident trace", "incident_id", l.IncidentID, "err", err)
			return
		}
		if err := s.store.ForgetIncident(l.IncidentID, state...); err != nil {
			s.log.Error("state pruning", "incident_id", l.IncidentID, "err", err)
			return
		}
		s.hashes.forget(l.IncidentID)
		pruned++
	}
	if n, err := s.store.PruneJournal(traceJournal, cutoff); err != nil { // incidents never linked
		s.log.Error("state pruning: incident traces", "err", err)
	} else if n > 0 {
		s.log.Info("old incident traces pruned", "traces", n, "older_than", s.cfg.Outbox.StateRetention.String())
	}
	if pruned > 0 {
		s.log.Info("old incident state pruned", "incidents", pruned, "older_than", s.cfg.Outbox.StateRetention.String())
	}
}

// expireUnlinked forgets the call statuses and assistant activations kept for calls that
// were not linked within outbox.unlinked_retention (the CAD never created or never
// matched the incident): each is logged with its call id and counted in
// cad_sidecar_unlinked_events_expired_total{kind}. Run hourly, so one is kept at most
// unlinked_retention plus an hour.
func (s *Sidecar) expireUnlinked() {
	expired, err := s.store.ExpireUnlinked(time.Now().Add(-s.cfg.Outbox.UnlinkedRetention))
	if err != nil {
		s.log.Error("state pruning: expire unlinked call state", "err", err)
		return
	}
	for _, e := range expired {
		s.metrics.State.UnlinkedExpired.WithLabelValues(e.Kind).Inc()
		s.log.Info("call never linked: kept "+e.Kind+" forgotten", "call_id", e.CallID, "kind", e.Kind,
			"kept_at", e.At.UTC().Format(time.RFC3339), "older_than", s.cfg.Outbox.UnlinkedRetention.String())
	}
}
