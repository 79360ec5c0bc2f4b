package sidecar_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

func TestCursorTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 UTC, "" = not a time
	}{
		{"2099-01-01T00:00:00Z", "2099-01-01T00:00:00Z"},
		{"2099-01-01T01:00:00+01:00", "2099-01-01T00:00:00Z"},
		{"2026-11-25T10:00:00.123456Z", "2026-11-25T10:00:00.123456Z"},
		{"2026-11-25T10:00:00", "2026-11-25T10:00:00Z"},
		{"2026-11-25 10:00:00", "2026-11-25T10:00:00Z"},
		{"2026-11-25", "2026-11-25T00:00:00Z"},
		{"4070908800", "2099-01-01T00:00:00Z"},    // Unix seconds
		{"4070908800000", "2099-01-01T00:00:00Z"}, // Unix milliseconds
		{"1764590000.5", "2025-12-01T11:53:20.5Z"},
		{"42", ""}, // a change sequence number
		{"", ""},
		{"opaque-token", ""},
	}
	for _, tt := range tests {
		got, ok := sidecar.CursorTime(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("CursorTime(%q) = %v, want not a time", tt.in, got)
			}
			continue
		}
		if !ok || got.UTC().Format(time.RFC3339Nano) != tt.want {
			t.Errorf("CursorTime(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	now := time.Now()
	if _, f := sidecar.CursorInFuture(now.Add(4*time.Minute).Format(time.RFC3339), now, 5*time.Minute); f {
		t.Error("4 minutes ahead is within a 5m tolerance")
	}
	if _, f := sidecar.CursorInFuture(now.Add(6*time.Minute).Format(time.RFC3339), now, 5*time.Minute); !f {
		t.Error("6 minutes ahead is beyond a 5m tolerance")
	}
	if _, f := sidecar.CursorInFuture("2099-01-01T00:00:00Z", now, 0); f {
		t.Error("a tolerance of 0 turns the check off")
	}
}

// futureCAD is a REST CAD that lists one sane record and, while future is set, one stamped
// 2099; it filters on since (as real CADs do) and records the since values it got.
type futureCAD struct {
	future atomic.Bool
	mu     sync.Mutex
	since  []string
}

func (c *futureCAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	c.mu.Lock()
	c.since = append(c.since, since)
	c.mu.Unlock()
	recs := []map[string]any{{"IncidentNumber": "SANE-1", "Status": "OPEN", "updated": "2026-11-25T10:00:00Z"}}
	if c.future.Load() {
		recs = append(recs, map[string]any{"IncidentNumber": "FUT-1", "Status": "OPEN", "updated": "2099-01-01T00:00:00Z"})
	}
	var out []map[string]any
	for _, rec := range recs {
		if since == "" || rec["updated"].(string) > since {
			out = append(out, rec)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": out})
}

func (c *futureCAD) sinces() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.since...)
}

type readyz struct {
	Ready  bool
	Checks map[string]sidecar.Check
}

func (e *env) readyz(t *testing.T) readyz {
	t.Helper()
	resp, err := http.Get(e.adminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r readyz
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("readyz %q: %v", b, err)
	}
	return r
}

// A CAD record stamped 2099 is linked but does not become the cursor: the cursor advances
// over the sane records (the REST source skips the value and reports it); /readyz turns
// degraded, then not ready once it persists; the operator sees the incident in the log.
// A cursor stored in the future is reported the same way; the admin API repairs it.
func TestCursorInTheFutureNotAdopted(t *testing.T) {
	cad := &futureCAD{}
	cad.future.Store(true)
	srv := httptest.NewServer(cad)
	defer srv.Close()
	e := start(t, envOptions{cadURL: srv.URL})
	cursor := func() string {
		v, _, err := e.s.Store().Get("cursor", "cad")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rejected := func() float64 { return e.metric(t, "cad_sidecar_cad_cursor_rejected_total") }

	waitFor(t, 10*time.Second, "a rejected cursor", func() bool { return rejected() >= 1 })
	if c := e.readyz(t).Checks["cad_cursor"]; !c.Degraded || !strings.Contains(c.Detail, "FUT-1") {
		// (It may already be past the first poll: then it is not OK either, but degraded.)
		t.Fatalf("cad_cursor after the first rejection: %+v", c)
	}
	waitFor(t, 10*time.Second, "both records linked", func() bool {
		_, ok1, _ := e.s.Store().GetLink("SANE-1")
		_, ok2, _ := e.s.Store().GetLink("FUT-1")
		return ok1 && ok2
	})
	waitFor(t, 15*time.Second, "not ready once it persists", func() bool { return rejected() >= sidecar.CursorPersistPolls })
	r := e.readyz(t)
	if c := r.Checks["cad_cursor"]; r.Ready || c.OK || !c.Degraded {
		t.Fatalf("after %d rejections: ready=%v cad_cursor=%+v", sidecar.CursorPersistPolls, r.Ready, c)
	}
	if got := cursor(); got != "2026-11-25T10:00:00Z" {
		t.Fatalf("cursor %q, want the sane record's adopted", got)
	}
	for _, s := range cad.sinces() {
		if strings.HasPrefix(s, "2099") {
			t.Fatalf("polled with since=%s", s)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `msg="CAD cursor in the future not adopted" incident_id=FUT-1`) {
		t.Fatalf("no WARN naming the incident:\n%s", logs)
	}
	if n := strings.Count(logs, "level=WARN msg=\"CAD cursor in the future not adopted\""); n > 2 {
		t.Fatalf("%d WARN lines for one persisting cause (want the start and the turn to not ready)", n)
	}

	// The CAD record is corrected: the sane cursor is adopted, readiness comes back.
	cad.future.Store(false)
	waitFor(t, 10*time.Second, "the sane cursor", func() bool { return cursor() == "2026-11-25T10:00:00Z" })
	waitFor(t, 10*time.Second, "ready again", func() bool { return e.readyz(t).Checks["cad_cursor"].OK })
	if c := e.readyz(t).Checks["cad_cursor"]; c.Degraded {
		t.Fatalf("cad_cursor still degraded: %+v", c)
	}

	// The admin API refuses a cursor in the future unless forced; a forced (or older
	// version's) stored cursor in the future is reported; DELETE resets it.
	var info sidecar.CursorInfo
	if code, body := e.api(t, "PUT", "/api/v1/cursor", `{"cursor":"2099-01-01T00:00:00Z"}`, nil); code != 400 || !strings.Contains(body, "later than now") {
		t.Fatalf("PUT future: %d %s", code, body)
	}
	for _, bad := range []string{`{"cursor":""}`, `{"cursor":"a\u0001b"}`, `{"cursr":"x"}`, `not json`} {
		if code, body := e.api(t, "PUT", "/api/v1/cursor", bad, nil); code != 400 {
			t.Fatalf("PUT %s: %d %s", bad, code, body)
		}
	}
	if got := cursor(); got != "2026-11-25T10:00:00Z" {
		t.Fatalf("a refused PUT changed the cursor to %q", got)
	}
	if code, body := e.api(t, "PUT", "/api/v1/cursor", `{"cursor":"2099-01-01T00:00:00Z","force":true}`, &info); code != 200 ||
		!info.InFuture || info.Previous != "2026-11-25T10:00:00Z" {
		t.Fatalf("PUT forced: %d %s", code, body)
	}
	before := rejected()
	waitFor(t, 10*time.Second, "the stored cursor reported", func() bool { return rejected() > before })
	if c := e.readyz(t).Checks["cad_cursor"]; !c.Degraded || !strings.Contains(c.Detail, "stored cursor") {
		t.Fatalf("cad_cursor with a stored future cursor: %+v", c)
	}
	if !strings.Contains(e.logs.String(), "CAD cursor stored is in the future") {
		t.Fatal("no WARN for the stored cursor")
	}
	if code, body := e.api(t, "GET", "/api/v1/cursor", "", &info); code != 200 || !info.InFuture || info.Cursor != "2099-01-01T00:00:00Z" {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, body := e.api(t, "DELETE", "/api/v1/cursor", "", &info); code != 200 || info.Set || info.Previous != "2099-01-01T00:00:00Z" {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "the cursor adopted after the reset", func() bool { return cursor() == "2026-11-25T10:00:00Z" })
	waitFor(t, 10*time.Second, "ready after the reset", func() bool { return e.readyz(t).Checks["cad_cursor"].OK })
}
