package sidecar_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestUnchangedIncidentNotRelinkedWithoutCursor holds "a content hash per incident
// suppresses unchanged re-sends" on its own: the CAD here ignores the poll cursor and lists
// every incident at every poll (as a CAD without a since filter does), so only the hash
// keeps an unchanged incident from being linked again; a changed one is re-linked.
func TestUnchangedIncidentNotRelinkedWithoutCursor(t *testing.T) {
	var cad atomic.Pointer[sim.CAD]
	noCursor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cad.Load()
		if c == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		q := r.URL.Query()
		q.Del("since")
		r.URL.RawQuery = q.Encode()
		c.ServeHTTP(w, r)
	}))
	t.Cleanup(noCursor.Close)
	e := start(t, envOptions{cadURL: noCursor.URL + "/api"})
	cad.Store(e.cad)

	id := e.cad.AddIncident()
	waitFor(t, 10*time.Second, "first link", func() bool { return e.as.LinkRequests() == 1 })
	polls := e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok")
	waitFor(t, 10*time.Second, "three more polls listing the same incident", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok") >= polls+3
	})
	if n := e.as.LinkRequests(); n != 1 {
		t.Fatalf("an unchanged incident listed again was re-linked: %d link requests, want 1", n)
	}
	if !e.cad.UpdateIncident(id) {
		t.Fatal("UpdateIncident")
	}
	waitFor(t, 10*time.Second, "re-link after the change", func() bool { return e.as.LinkRequests() == 2 })
}
