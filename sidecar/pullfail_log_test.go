package sidecar_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPullFailuresLoggedOnce: Assist becomes unreachable while several calls are linked
// (pull mode). Over many pulls of every call, the log has one WARN "notes pull failed" for
// the kind of failure (not one per call per pull), each failed pull is at DEBUG with its
// call_id, and once Assist is back one INFO "notes pull recovered" with the count.
func TestPullFailuresLoggedOnce(t *testing.T) {
	var down atomic.Bool
	var refused atomic.Int64 // notes pulls refused while down
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !down.Load() {
				next.ServeHTTP(w, r)
				return
			}
			if strings.HasSuffix(r.URL.Path, "/notes") {
				refused.Add(1)
			}
			// Unreachable: the connection closes without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})
	}
	e := start(t, envOptions{notes: "pull", wrapAssist: wrap})
	for range 3 {
		e.cad.AddIncident()
	}
	waitFor(t, 30*time.Second, "3 linked calls", func() bool { return len(e.as.Links()) >= 3 })
	down.Store(true)
	waitFor(t, 30*time.Second, "9 refused notes pulls", func() bool { return refused.Load() >= 9 })
	logs := e.logs.String()
	if n := strings.Count(logs, `level=WARN msg="notes pull failed"`); n != 1 {
		t.Fatalf("%d WARN lines for %d refused notes pulls, want 1", n, refused.Load())
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `level=WARN msg="notes pull failed"`) && !strings.Contains(l, "kind=") {
			t.Errorf("WARN line does not name the kind of failure: %s", l)
		}
	}
	if n := strings.Count(logs, `level=DEBUG msg="notes pull failed" call_id=`); n < 2 {
		t.Errorf("%d DEBUG lines with call_id for the failed pulls, want one per failed pull", n)
	}
	down.Store(false)
	waitFor(t, 30*time.Second, "the recovery logged", func() bool {
		return strings.Contains(e.logs.String(), `level=INFO msg="notes pull recovered"`)
	})
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `msg="notes pull recovered"`) && (!strings.Contains(l, "failed_pulls=") || !strings.Contains(l, "failed_for=")) {
			t.Errorf("recovery line lacks count or duration: %s", l)
		}
	}
	if n := strings.Count(e.logs.String(), `msg="notes pull recovered"`); n != 1 {
		t.Errorf("%d recovery lines, want 1", n)
	}
	if testing.Verbose() {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "notes pull") && !strings.Contains(l, "level=DEBUG") {
				t.Log(l)
			}
		}
	}
}
