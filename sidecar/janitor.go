package sidecar

import (
	"context"
	"time"
)

// pruneState forgets incidents whose last change (or call end) is older than
// outbox.state_retention: their link, content hash and notes cursor. The file then stays
// bounded over years. An incident polled again after that is linked again, as a new one.
func (s *Sidecar) pruneState(ctx context.Context) {
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
		state := [][2]string{{bucketHash, l.IncidentID}}
		if l.CallID != "" {
			state = append(state, [2]string{bucketCursor, "notes/" + l.CallID})
		}
		if err := s.store.ForgetIncident(l.IncidentID, state...); err != nil {
			s.log.Error("state pruning", "incident_id", l.IncidentID, "err", err)
			return
		}
		s.hashes.forget(l.IncidentID)
		pruned++
	}
	if pruned > 0 {
		s.log.Info("old incident state pruned", "incidents", pruned, "older_than", s.cfg.Outbox.StateRetention.String())
	}
}
