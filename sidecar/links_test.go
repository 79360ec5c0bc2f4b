package sidecar_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An unchanged incident polled again is not re-linked; a changed one is.
func TestChangeDetection(t *testing.T) {
	e := start(t, envOptions{})
	id := e.cad.AddIncident()
	waitFor(t, 10*time.Second, "first link", func() bool { return e.as.LinkRequests() == 1 })
	polls := e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok")
	// Three more polls of the same, unchanged incident.
	waitFor(t, 10*time.Second, "three more polls", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok") >= polls+3
	})
	if n := e.as.LinkRequests(); n != 1 {
		t.Fatalf("unchanged incident re-linked: %d link requests", n)
	}
	first, _ := e.as.LastLink(id)

	if !e.cad.UpdateIncident(id) {
		t.Fatal("UpdateIncident")
	}
	waitFor(t, 10*time.Second, "re-link after the change", func() bool { return e.as.LinkRequests() == 2 })
	second, _ := e.as.LastLink(id)
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) == string(b) {
		t.Fatalf("re-link sent the same request: %s", a)
	}
	if e.as.LinkCount() != 1 {
		t.Fatalf("a re-link counted as a new incident: %d", e.as.LinkCount())
	}
}

// A record the mapping cannot handle is reported (with its incident id where it has one)
// and skipped; the other records of the poll are linked.
func TestBadRecordSkipped(t *testing.T) {
	cad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data": [
			{"Status": "OPEN", "updated": 1},
			{"IncidentNumber": 77, "Status": "OPEN", "Pri": "2", "updated": 2},
			{"IncidentNumber": 78, "Status": "OPEN", "Pri": {"nested": true}, "updated": 3},
			{"IncidentNumber": 79, "Status": "CLOSED", "Pri": "1", "updated": 4}
		]}`))
	}))
	defer cad.Close()
	e := start(t, envOptions{cadURL: cad.URL, mapping: `
mapping:
  incident_id: IncidentNumber
  filter: 'Status != "CLOSED"'
  fields:
    - {name: Priority, expr: 'Pri + "!"'}
`})
	waitFor(t, 10*time.Second, "good record linked", func() bool { return e.as.LinkRequests() >= 1 })
	waitFor(t, 10*time.Second, "errors counted", func() bool {
		return e.metric(t, "cad_sidecar_cad_records_total", "result", "error") >= 2
	})
	if _, ok := e.as.LastLink("77"); !ok {
		t.Fatal("the good record was not linked")
	}
	for _, id := range []string{"78", "79"} {
		if _, ok := e.as.LastLink(id); ok {
			t.Fatalf("incident %s linked", id)
		}
	}
	if e.metric(t, "cad_sidecar_cad_records_total", "result", "filtered") < 1 {
		t.Fatal("filtered record not counted")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "CAD record skipped: mapping failed") || !strings.Contains(logs, "incident_id=78") {
		t.Fatalf("the bad record is not reported with its incident id:\n%s", logs)
	}
}
