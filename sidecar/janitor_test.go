package sidecar_test

import (
	"context"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Incidents whose last change is older than outbox.state_retention are forgotten (link,
// hash, notes cursor); recent ones and ones whose call ended recently are kept.
func TestStatePruning(t *testing.T) {
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Outbox.StateRetention = time.Hour }})
	st := e.s.Store()
	old := time.Now().Add(-2 * time.Hour)
	links := []outbox.Link{
		{IncidentID: "old", CallID: "c-old", UpdatedAt: old, LinkedAt: old},
		{IncidentID: "fresh", CallID: "c-fresh"},
		{IncidentID: "ended-recently", CallID: "c-end", UpdatedAt: old, LinkedAt: old, Status: outbox.StatusEnded, EndedAt: time.Now().Add(-time.Minute)},
	}
	for _, l := range links {
		if err := st.PutLink(l); err != nil {
			t.Fatal(err)
		}
		if err := st.Put("hash", l.IncidentID, "h-"+l.IncidentID); err != nil {
			t.Fatal(err)
		}
		if err := st.Put("cursor", "notes/"+l.CallID, "3"); err != nil {
			t.Fatal(err)
		}
	}
	e.s.PruneState(context.Background())
	for _, l := range links {
		_, linked, _ := st.GetLink(l.IncidentID)
		_, hashed, _ := st.Get("hash", l.IncidentID)
		_, cursor, _ := st.Get("cursor", "notes/"+l.CallID)
		keep := l.IncidentID != "old"
		if linked != keep || hashed != keep || cursor != keep {
			t.Errorf("%s: link %v hash %v cursor %v, want all %v", l.IncidentID, linked, hashed, cursor, keep)
		}
	}
}
