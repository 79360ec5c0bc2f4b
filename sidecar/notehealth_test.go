package sidecar_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestReadyzCADWrite: an incident is linked while the CAD answers every note write with
// 503 (down for writes; polls still answered). /readyz's cad_write turns not ready once
// every write failed for longer than outbox.unready_after with notes waiting — its detail
// names the status, never the CAD's answer body — and ready again at the first accepted
// write. With outbox.unready_after 0 it is only degraded.
func TestReadyzCADWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
	}{{"on", 300 * time.Millisecond}, {"off", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			cad := sim.NewCAD(sim.CADOptions{Seed: 7})
			var down atomic.Bool
			down.Store(true)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && down.Load() {
					w.Header().Set("Retry-After", "0")
					http.Error(w, "CAD maintenance: secret answer body", http.StatusServiceUnavailable)
					return
				}
				cad.ServeHTTP(w, r)
			}))
			defer srv.Close()
			cad.AddIncident()
			e := start(t, envOptions{cadURL: srv.URL + "/api", register: true,
				edit: func(c *config.Config) { c.Outbox.UnreadyAfter = tc.after }})
			waitFor(t, 20*time.Second, "note writes failing", func() bool {
				return e.metric(t, "cad_sidecar_note_write_errors_total", "kind", "transient") >= 3
			})
			if tc.after == 0 {
				if c := e.readyz(t).Checks["cad_write"]; !c.OK || !c.Degraded {
					t.Fatalf("cad_write with unready_after 0: %+v, want ok and degraded", c)
				}
				return
			}
			var detail string
			waitFor(t, 20*time.Second, "cad_write not ready", func() bool {
				r := e.readyz(t)
				detail = r.Checks["cad_write"].Detail
				return !r.Checks["cad_write"].OK && !r.Ready
			})
			if !strings.Contains(detail, "every note write failed for") || !strings.Contains(detail, "503") {
				t.Errorf("cad_write detail %q lacks the duration or the status", detail)
			}
			if strings.Contains(detail, "secret") {
				t.Errorf("cad_write detail carries the CAD's answer body: %q", detail)
			}
			if v := e.metric(t, "cad_sidecar_ready"); v != 0 {
				t.Errorf("cad_sidecar_ready = %v while /readyz is not ready, want 0", v)
			}
			down.Store(false)
			waitFor(t, 20*time.Second, "cad_write ready again", func() bool {
				c := e.readyz(t).Checks["cad_write"]
				return c.OK && !c.Degraded
			})
			waitFor(t, 20*time.Second, "ready, and cad_sidecar_ready 1", func() bool {
				return e.readyz(t).Ready && e.metric(t, "cad_sidecar_ready") == 1
			})
		})
	}
}
