package rest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// detailSource is a Source over a summary-only sim.CADAPI list (pages of 100, next link)
// that fetches /v2/incidents/{{.Id}} for each listed record.
func detailSource(t *testing.T, n int, edit func(*Config)) (*sim.CADAPI, *Source, adapters.State) {
	t.Helper()
	api, srv := pagedAPI(t, sim.CADAPIOptions{Paging: sim.PageNext, Summary: true}, n)
	st := &adapters.MemState{}
	c := NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Poll.Path = "/v2/incidents?since={{.Cursor}}"
	c.Poll.Items = "data"
	c.Poll.CursorField = "updated"
	c.Poll.Pagination.Next = "links.next"
	c.Poll.Detail.Path = "/v2/incidents/{{.Id}}"
	c.Timeout = 5 * time.Second
	if edit != nil {
		edit(c)
	}
	src, _, err := New(c, adapters.Deps{State: st})
	if err != nil {
		t.Fatal(err)
	}
	return api, src, st
}

func detailCalls(api *sim.CADAPI) int {
	n := 0
	for _, id := range api.CAD().Incidents() {
		n += api.DetailRequests(id)
	}
	return n
}

// TestDetailOnlyNewOrChanged: each listed record becomes its detail; a listing read again
// (same change marker) fetches nothing and emits nothing; a changed incident is fetched
// again, alone; the details run at most detail.concurrency at a time.
func TestDetailOnlyNewOrChanged(t *testing.T) {
	api, src, _ := detailSource(t, 30, func(c *Config) { c.Poll.Detail.Concurrency = 3 })
	api.SetDetailDelay(20 * time.Millisecond)
	b := pollDurable(t, src, "0")
	if len(b.Records) != 30 {
		t.Fatalf("%d records, want 30", len(b.Records))
	}
	for _, r := range b.Records {
		if _, ok := r["Nature"]; !ok {
			t.Fatalf("record %v is the listed summary, not the detail", r)
		}
	}
	if b.Cursor != "30" {
		t.Fatalf("cursor %q, want 30", b.Cursor)
	}
	if m := api.MaxDetailsInFlight(); m > 3 || m < 1 {
		t.Fatalf("%d details at once, want 1..3 (detail.concurrency)", m)
	}
	if n := detailCalls(api); n != 30 {
		t.Fatalf("%d detail calls, want 30", n)
	}
	// The same listing again (a poll from the old cursor: a restart before the cursor moved).
	if b := pollDurable(t, src, "0"); len(b.Records) != 0 {
		t.Fatalf("an unchanged listing emitted %d records", len(b.Records))
	}
	if n := detailCalls(api); n != 30 {
		t.Fatalf("an unchanged listing made %d more detail calls", n-30)
	}
	changed := api.CAD().Incidents()[7]
	api.CAD().UpdateIncident(changed)
	b = pollDurable(t, src, "0")
	if len(b.Records) != 1 || cursorString(b.Records[0]["IncidentNumber"]) != changed {
		t.Fatalf("after one change: %d records (%v), want only %s", len(b.Records), ids(b.Records), changed)
	}
}

// TestDetailMarksOnlyWhenDurable: a batch that was not durable (emit failed) leaves no
// marks: the details are fetched and emitted again.
func TestDetailMarksOnlyWhenDurable(t *testing.T) {
	_, src, _ := detailSource(t, 5, nil)
	b, err := src.Poll(context.Background(), "0")
	if err != nil || len(b.Records) != 5 {
		t.Fatalf("Poll = %d records, %v", len(b.Records), err)
	}
	src.emitted(context.Background(), b, context.Canceled)
	if b := pollDurable(t, src, "0"); len(b.Records) != 5 {
		t.Fatalf("after a batch that was not durable: %d records emitted again, want 5", len(b.Records))
	}
}

// TestDetailFailureRetriedNotBlocking: one incident's detail fails: the others are emitted
// and the cursor moves past all of them (the failed one is kept in State before the batch
// is handed over); the failed one is fetched at each later poll, though the list no longer
// shows it, and emitted once it answers; a permanent refusal is given up.
func TestDetailFailureRetriedNotBlocking(t *testing.T) {
	api, src, st := detailSource(t, 10, nil)
	bad := api.CAD().Incidents()[3]
	api.FailDetail(bad, http.StatusInternalServerError)
	b, err := src.Poll(context.Background(), "0")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(b.Records); len(got) != 9 || got[bad] != 0 {
		t.Fatalf("%d records (%v); want the 9 others", len(b.Records), got)
	}
	if b.Cursor != "10" {
		t.Fatalf("cursor %q, want 10 (the failed detail does not hold it)", b.Cursor)
	}
	if v, ok, _ := st.Get(retryKey); !ok || !strings.Contains(v, bad) {
		t.Fatalf("the failed incident is not in State before the batch is handed over: %q", v)
	}
	if got := metricValue(src.m.retry); got != 1 {
		t.Fatalf("cad_sidecar_rest_detail_retry = %v, want 1", got)
	}
	src.emitted(context.Background(), b, nil)
	for range 3 {
		if b := pollDurable(t, src, "10"); len(b.Records) != 0 {
			t.Fatalf("the failing detail emitted %d records", len(b.Records))
		}
	}
	if n := api.DetailRequests(bad); n != 4 {
		t.Fatalf("the failing detail was asked %d times over 4 polls", n)
	}
	api.FailDetail(bad, 0)
	b = pollDurable(t, src, "10")
	if got := ids(b.Records); len(got) != 1 || got[bad] != 1 {
		t.Fatalf("once it answers: %v, want %s", got, bad)
	}
	if b := pollDurable(t, src, "10"); len(b.Records) != 0 || api.DetailRequests(bad) != 5 {
		t.Fatalf("the recovered detail is still retried (%d records, %d calls)", len(b.Records), api.DetailRequests(bad))
	}

	// A detail refused for good (404) is given up after detailGiveUp polls.
	gone := api.CAD().Incidents()[5]
	api.FailDetail(gone, http.StatusNotFound)
	api.CAD().UpdateIncident(gone)
	cursor := "10"
	for range detailGiveUp + 2 {
		cursor = pollDurable(t, src, cursor).Cursor
	}
	if cursor != "11" {
		t.Fatalf("cursor %q, want 11 (the refused incident's change)", cursor)
	}
	if n := api.DetailRequests(gone); n != 1+detailGiveUp {
		t.Fatalf("a detail refused for good was asked %d times, want %d", n, 1+detailGiveUp)
	}
	// 9 answered, then bad once it answers; bad failed 4 times, gone 9 times and was then
	// given up; none waits.
	for result, want := range map[string]float64{"ok": 10, "failed": 4 + detailGiveUp - 1, "given_up": 1} {
		if got := metricValue(src.m.details.WithLabelValues(result)); got != want {
			t.Errorf("cad_sidecar_rest_details_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if got := metricValue(src.m.retry); got != 0 {
		t.Errorf("cad_sidecar_rest_detail_retry = %v, want 0", got)
	}
}

// TestDetailAllFailingFailsThePoll: when no detail answers for want of the CAD, the poll
// fails (polls back off) rather than moving the cursor over records it has none of.
func TestDetailAllFailingFailsThePoll(t *testing.T) {
	api, src, _ := detailSource(t, 4, nil)
	for _, id := range api.CAD().Incidents() {
		api.FailDetail(id, http.StatusServiceUnavailable)
	}
	if b, err := src.Poll(context.Background(), "0"); err == nil {
		t.Fatalf("Poll with every detail failing = %d records, cursor %q, no error", len(b.Records), b.Cursor)
	}
}

// TestDetailInto: with detail.into the detail goes under that key of the listed record.
func TestDetailInto(t *testing.T) {
	_, src, _ := detailSource(t, 2, func(c *Config) { c.Poll.Detail.Into = "detail" })
	b := pollDurable(t, src, "0")
	if len(b.Records) != 2 {
		t.Fatalf("%d records", len(b.Records))
	}
	r := b.Records[0]
	d, ok := r["detail"].(map[string]any)
	if !ok || r["Id"] == nil || d["Nature"] == nil {
		t.Fatalf("record %v: want the listed Id and the detail under \"detail\"", r)
	}
	if cursorString(d["IncidentNumber"]) != cursorString(r["Id"]) {
		t.Fatalf("detail %v is not the listed record's (%v)", d["IncidentNumber"], r["Id"])
	}
}
