package sidecar_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Registration is retried with backoff until Assist accepts it; readiness waits for it; the
// webhook id is kept.
func TestWebhookRegistrationRetried(t *testing.T) {
	var calls, refused atomic.Int32
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/webhook/call" {
				if calls.Add(1) <= 2 {
					refused.Add(1)
					http.Error(w, "warming up", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, envOptions{register: true, wrapAssist: wrap})
	if ready, checks := e.s.Ready(); ready || checks["webhook"].OK {
		t.Fatalf("ready before registration: %v", checks)
	}
	waitFor(t, 15*time.Second, "registration", func() bool { return e.metric(t, "cad_sidecar_webhook_registered") == 1 })
	if refused.Load() != 2 || e.as.Registrations() != 1 {
		t.Fatalf("refused %d, registered %d times", refused.Load(), e.as.Registrations())
	}
	id, ok, err := e.s.Store().Get("meta", "webhook_id")
	if err != nil || !ok || id == "" {
		t.Fatalf("webhook id not stored: %q %v %v", id, ok, err)
	}
	if _, checks := e.s.Ready(); !checks["webhook"].OK {
		t.Fatalf("registered but not ready: %v", checks)
	}
}
