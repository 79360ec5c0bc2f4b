package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// bulkCAD is a REST CAD listing n incidents (each with a large Status, so that a poll's
// links outgrow a small outbox budget), updated one second apart, filtered on since.
type bulkCAD struct{ n int }

func bulkUpdated(i int) string {
	return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339)
}

func (c bulkCAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	pad := strings.Repeat("s", 1200)
	var out []map[string]any
	for i := range c.n {
		if u := bulkUpdated(i); since == "" || u > since {
			out = append(out, map[string]any{"IncidentNumber": fmt.Sprintf("INC-%05d", i), "Status": pad, "updated": u})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": out})
}

// TestCursorNeverBeforeItsLinks: one poll brings more links than the outbox takes
// (outbox.max_bytes) while Assist is down. The links are committed in chunks with their
// hashes; the chunk past the budget is refused; the cursor, which goes with the last chunk,
// is not stored — so no record it covers can be skipped. Each queued link has its hash
// and no hash is without its link. Once Assist is back and the links drain, the next polls
// queue the rest; every incident is linked exactly once and the cursor ends at the newest.
func TestCursorNeverBeforeItsLinks(t *testing.T) {
	const n = 2*outbox.BatchChunkItems + 300
	srv := httptest.NewServer(bulkCAD{n: n})
	defer srv.Close()
	var down atomic.Bool
	down.Store(true)
	e := start(t, envOptions{
		cadURL: srv.URL,
		edit:   func(c *config.Config) { c.Outbox.MaxBytes = config.MiB },
		wrapAssist: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() && strings.HasSuffix(r.URL.Path, "/cad/incident") {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	st := e.s.Store()
	get := func(bucket, key string) (string, bool) {
		v, ok, err := st.Get(bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
	waitFor(t, 20*time.Second, "a poll refused for the outbox budget", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "error") >= 1
	})
	if c, ok := get("cursor", "cad"); ok {
		t.Fatalf("cursor %q stored although the poll's links are not all queued", c)
	}
	links, err := st.Pending(outbox.TopicLink, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) == 0 || len(links) >= n || len(links)%outbox.BatchChunkItems != 0 {
		t.Fatalf("%d links queued; want whole chunks of %d, fewer than %d", len(links), outbox.BatchChunkItems, n)
	}
	queued := map[string]bool{}
	for _, m := range links {
		queued[m.Key] = true
		if _, ok := get("hash", m.Key); !ok {
			t.Errorf("link of %s queued without its hash", m.Key)
		}
	}
	for i := range n {
		id := fmt.Sprintf("INC-%05d", i)
		if _, ok := get("hash", id); ok && !queued[id] {
			t.Errorf("hash of %s stored without its link", id)
		}
	}

	down.Store(false)
	waitFor(t, 60*time.Second, "every incident linked", func() bool { return e.as.LinkCount() == n })
	waitFor(t, 20*time.Second, "the cursor at the newest record", func() bool {
		c, _ := get("cursor", "cad")
		return c == bulkUpdated(n-1)
	})
	if r := e.as.LinkRequests(); r != n {
		t.Errorf("%d link requests for %d incidents: an unchanged incident was linked again", r, n)
	}
}
