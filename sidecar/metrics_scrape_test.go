package sidecar_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// scrape GETs /metrics from the running sidecar over HTTP and returns every sample of the
// cad_sidecar_ metrics, keyed by the sample as printed: `name` or `name{label="v",...}`.
func scrape(t *testing.T, adminURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s %s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cad_sidecar_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return out
}

// TestMetricsScraped runs a known scenario against a sidecar serving real HTTP — two
// incidents in the CAD, each linked once; Assist sends 3 notes and a CALL_COMPLETED per call
// by webhook; the CAD refuses the very first note write once with a 503 — and checks every
// metric the README lists, as /metrics prints it.
func TestMetricsScraped(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 5})
	var notePosts atomic.Int32
	cadSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && notePosts.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		cad.ServeHTTP(w, r)
	}))
	defer cadSrv.Close()
	ids := []string{cad.AddIncident(), cad.AddIncident()}
	before := time.Now().Unix()

	e := start(t, envOptions{cadURL: cadSrv.URL + "/api", register: true})
	const perCall = 3 + 1 // INFO notes + CALL_COMPLETED
	const notes = 2 * perCall
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var m map[string]float64
	for m = scrape(t, e.adminURL); m["cad_sidecar_notes_delivered_total"] < notes; m = scrape(t, e.adminURL) {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %d notes delivered; CAD has %d notes (%d and %d), metrics %v",
				notes, cad.NoteCount(), len(cad.Notes(ids[0])), len(cad.Notes(ids[1])), m)
		case <-time.After(20 * time.Millisecond):
		}
	}
	after := time.Now().Unix()

	exact := map[string]float64{
		`cad_sidecar_assist_links_total{result="ok"}`:                     2,
		`cad_sidecar_cad_records_total{result="queued"}`:                  2,
		`cad_sidecar_note_write_errors_total{kind="transient"}`:           1,
		`cad_sidecar_notes_delivered_total`:                               notes,
		`cad_sidecar_notes_received_total{result="queued",source="push"}`: notes,
		`cad_sidecar_webhook_events_total{event="note"}`:                  notes,
		`cad_sidecar_webhook_registered`:                                  1,
	}
	for name, want := range exact {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	// A webhook Assist re-sends (its try timed out) is an event again and a duplicate note.
	dups := m[`cad_sidecar_notes_received_total{result="duplicate",source="push"}`]
	if got := m[`cad_sidecar_webhook_events_total{event="note"}`]; got != notes+dups {
		t.Errorf(`cad_sidecar_webhook_events_total{event="note"} = %v, want %v (%d notes, %v re-sent)`, got, notes+dups, notes, dups)
	}
	for _, absent := range []string{
		`cad_sidecar_assist_links_total{result="error"}`,
		`cad_sidecar_note_write_errors_total{kind="permanent"}`,
		`cad_sidecar_cad_polls_total{result="error"}`,
	} {
		if v := m[absent]; v != 0 {
			t.Errorf("%s = %v, want 0", absent, v)
		}
	}
	if v := m[`cad_sidecar_cad_polls_total{result="ok"}`]; v < 1 {
		t.Errorf(`cad_sidecar_cad_polls_total{result="ok"} = %v, want ≥ 1`, v)
	}
	if v := m["cad_sidecar_cad_last_poll_success_timestamp_seconds"]; v < float64(before) || v > float64(after) {
		t.Errorf("cad_sidecar_cad_last_poll_success_timestamp_seconds = %v, want in [%d, %d]", v, before, after)
	}
	// Latencies: one observation per note delivered and per link answered.
	for name, want := range map[string]float64{
		"cad_sidecar_note_delivery_seconds_count": notes,
		"cad_sidecar_link_seconds_count":          2,
	} {
		if got := m[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if v := m[`cad_sidecar_note_delivery_seconds_bucket{le="+Inf"}`]; v != notes {
		t.Errorf(`cad_sidecar_note_delivery_seconds_bucket{le="+Inf"} = %v, want %v`, v, notes)
	}
	for _, name := range []string{"cad_sidecar_note_delivery_seconds_sum", "cad_sidecar_link_seconds_sum"} {
		if v := m[name]; v <= 0 || v > float64(after-before+1)*notes {
			t.Errorf("%s = %v, want in (0, %d]", name, v, (after-before+1)*notes)
		}
	}
	for _, name := range []string{"cad_sidecar_cad_last_contact_timestamp_seconds", "cad_sidecar_assist_last_contact_timestamp_seconds"} {
		if v := m[name]; v < float64(before) || v > float64(after+1) {
			t.Errorf("%s = %v, want in [%d, %d]", name, v, before, after+1)
		}
	}
	// The simulator's cursor is a change number, not a time: no age (TestCursorAgeMetric).
	if v, ok := m["cad_sidecar_cad_cursor_age_seconds"]; ok {
		t.Errorf("cad_sidecar_cad_cursor_age_seconds = %v for a sequence cursor, want absent", v)
	}
	if got := cad.NoteCount(); got != notes {
		t.Errorf("the CAD holds %d notes, want %d", got, notes)
	}
}

// TestRuntimeMetricsScraped: /metrics carries the Go runtime and process collectors.
func TestRuntimeMetricsScraped(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	resp, err := http.Get(e.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"\ngo_goroutines ", "\ngo_memstats_heap_alloc_bytes ", "\nprocess_resident_memory_bytes ", "\nprocess_open_fds "} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(name))
		}
	}
}
