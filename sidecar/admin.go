package sidecar

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// adminHandler serves /healthz (the process answers), /readyz (it can do its job),
// /metrics and the admin API (/api/v1/, see adminapi.go) on the admin listener.
func (s *Sidecar) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, checks := s.Ready()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": ready, "checks": checks})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	s.adminAPI(mux)
	s.dashboardRoutes(mux)
	return s.requireToken(mux)
}

// Check is one readiness check's outcome.
type Check struct {
	OK bool `json:"ok"`
	// Degraded: something is wrong that does not (yet) stop the sidecar doing its job.
	Degraded bool   `json:"degraded,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Ready reports whether the store is open and takes writes (outbox.Store.Health), the
// webhook registered (when push is on and registration enabled), the last CAD poll
// succeeded, the CAD cursor is sane (check cad_cursor: degraded while a cursor in the
// future is found, not ready once that lasted CursorPersistPolls polls) and the CAD takes
// notes (check cad_write: degraded while every write fails, not ready once that lasted
// outbox.unready_after with notes waiting).
func (s *Sidecar) Ready() (bool, map[string]Check) {
	checks := map[string]Check{}
	// Not ok while writes fail for lack of space ("disk full: ...": webhooks get 503 until
	// a write succeeds again) or once the file was found damaged.
	err := s.store.Health()
	checks["store"] = Check{OK: err == nil, Detail: errString(err)}
	if s.registered.Load() {
		checks["webhook"] = Check{OK: true}
	} else {
		checks["webhook"] = Check{Detail: "not registered with Assist yet"}
	}
	switch last := s.lastPollOK.Load(); {
	case s.pollErr.Load() != nil:
		checks["cad_poll"] = Check{Detail: "last poll failed: " + *s.pollErr.Load()}
	case last == 0:
		checks["cad_poll"] = Check{Detail: "no successful poll yet"}
	default:
		checks["cad_poll"] = Check{OK: true, Detail: "last success " + time.Unix(0, last).UTC().Format(time.RFC3339)}
	}
	checks["cad_cursor"] = s.cursor.check(s.cfg.CAD.CursorTolerance)
	waiting := 0
	if st, err := s.store.Stats(); err == nil {
		waiting = st.Pending[outbox.TopicNote]
	}
	checks["cad_write"] = s.writes.check(time.Now(), s.cfg.Outbox.UnreadyAfter, waiting)
	s.shadowChecks(checks) // shadow mode: check "shadow" (shadow.go)
	ready := true
	for _, c := range checks {
		ready = ready && c.OK
	}
	return ready, checks
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
