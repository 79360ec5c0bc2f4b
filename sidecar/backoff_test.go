package sidecar_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// While the CAD is down the sidecar sends one probe at a time, not one failing request per
// waiting note; once it is back, every note goes through.
func TestCADDownIsNotHammered(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var attempts atomic.Int64
	var mu sync.Mutex
	written := map[string]int{}
	cad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`{"data": []}`))
			return
		}
		attempts.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		written[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer cad.Close()
	e := start(t, envOptions{cadURL: cad.URL})
	const incidents = 30
	for i := range incidents {
		if resp, _ := post(t, e.hookURL, hookToken, noteBody(fmt.Sprintf("INC-%d", i), fmt.Sprintf("note %d", i))); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d: %d", i, resp.StatusCode)
		}
	}
	time.Sleep(2 * time.Second) // retry.initial 20ms, max 200ms: per-note retries would be ~300 requests
	during := attempts.Load()
	if during == 0 || during > 40 {
		t.Fatalf("%d requests to a CAD that is down for 2s with %d notes waiting", during, incidents)
	}
	down.Store(false)
	waitFor(t, 10*time.Second, "every note written", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(written) == incidents
	})
	t.Logf("requests while down: %d for %d waiting notes", during, incidents)
}
