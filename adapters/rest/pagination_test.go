package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// pagedAPI is a sim.CADAPI with n incidents behind a loopback server.
func pagedAPI(t *testing.T, o sim.CADAPIOptions, n int) (*sim.CADAPI, *httptest.Server) {
	t.Helper()
	cad := sim.NewCAD(sim.CADOptions{Seed: 3})
	for range n {
		cad.AddIncident()
	}
	api := sim.NewCADAPI(cad, o)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, srv
}

// pagedSource is the Source of a config for api's paging style (plus edit), with its
// own in-memory State.
func pagedSource(t *testing.T, srv *httptest.Server, style string, edit func(*Config)) *Source {
	t.Helper()
	c := NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Poll.Path = "/v2/incidents?since={{.Cursor}}"
	c.Poll.Items = "data"
	c.Poll.CursorField = "updated"
	c.Timeout = 5 * time.Second
	p := &c.Poll.Pagination
	switch style {
	case sim.PageNext:
		p.Next = "links.next"
	case sim.PageOData:
		c.Poll.Items, p.Next = "value", "@odata.nextLink"
	case sim.PageLink:
		p.LinkHeader = true
	case sim.PageToken:
		p.Token, p.TokenParam = "nextPageToken", "pageToken"
	case sim.PageNumber:
		p.PageParam, p.SizeParam, c.Poll.IDField = "page", "size", "IncidentNumber"
	case sim.PageOffset:
		p.OffsetParam, p.SizeParam, c.Poll.IDField = "offset", "limit", "IncidentNumber"
	}
	if edit != nil {
		edit(c)
	}
	src, _, err := New(c, adapters.Deps{State: &adapters.MemState{}})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// pollDurable polls once from cursor and, as the host would once the batch is durable,
// lets the source keep its position.
func pollDurable(t *testing.T, s *Source, cursor string) adapters.Batch {
	t.Helper()
	b, err := s.Poll(context.Background(), cursor)
	if err != nil {
		t.Fatalf("Poll(%q): %v", cursor, err)
	}
	s.emitted(context.Background(), b, nil)
	return b
}

// ids are the IncidentNumbers of records, and how many times each came.
func ids(recs []adapters.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[cursorString(r["IncidentNumber"])]++
	}
	return m
}

var allStyles = []string{sim.PageNext, sim.PageOData, sim.PageLink, sim.PageToken, sim.PageNumber, sim.PageOffset}

// TestPaginationReadsEveryPage: each style reads all 250 changed incidents (pages of 100)
// in one poll, each once, and the cursor is the largest of them all; with an empty last
// page (a full last page that links to an empty one) too.
func TestPaginationReadsEveryPage(t *testing.T) {
	for _, style := range allStyles {
		for _, emptyLast := range []bool{false, true} {
			n := 250
			if emptyLast {
				n = 200
			}
			t.Run(style+"/emptyLast="+strconv.FormatBool(emptyLast), func(t *testing.T) {
				api, srv := pagedAPI(t, sim.CADAPIOptions{Paging: style, PageSize: 100, EmptyLastPage: emptyLast}, n)
				src := pagedSource(t, srv, style, nil)
				b := pollDurable(t, src, "0")
				got := ids(b.Records)
				if len(b.Records) != n || len(got) != n {
					t.Fatalf("%d records, %d distinct; want %d each", len(b.Records), len(got), n)
				}
				if b.Cursor != strconv.Itoa(n) {
					t.Fatalf("cursor %q, want %d (the last change of all pages)", b.Cursor, n)
				}
				if pages := api.ListRequests(); pages < n/100 || pages > n/100+1 {
					t.Fatalf("%d page requests for %d records in pages of 100", pages, n)
				} else if got := metricValue(src.m.pages); got != float64(pages) {
					t.Fatalf("cad_sidecar_rest_pages_total = %v, want %d", got, pages)
				}
			})
		}
	}
}

// TestPaginationMaxPagesResumes: a poll stops at max_pages with the cursor where it was and
// the next poll goes on from the page it stopped at — none skipped, none read twice — and
// only the poll that ends the list moves the cursor. A poll whose batch was not durable
// (emit failed) is read again from the same page.
func TestPaginationMaxPagesResumes(t *testing.T) {
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			_, srv := pagedAPI(t, sim.CADAPIOptions{Paging: style, PageSize: 100}, 450)
			src := pagedSource(t, srv, style, func(c *Config) { c.Poll.Pagination.MaxPages = 2 })
			seen := map[string]int{}
			b1 := pollDurable(t, src, "0")
			if len(b1.Records) != 200 || b1.Cursor != "0" {
				t.Fatalf("poll 1: %d records, cursor %q; want 200 and the cursor kept (0)", len(b1.Records), b1.Cursor)
			}
			for id := range ids(b1.Records) {
				seen[id]++
			}
			// Poll 2 is not durable: the source must read the same pages again.
			b2, err := src.Poll(context.Background(), "0")
			if err != nil {
				t.Fatal(err)
			}
			src.emitted(context.Background(), b2, context.DeadlineExceeded)
			b2 = pollDurable(t, src, "0")
			if len(b2.Records) != 200 || b2.Cursor != "0" {
				t.Fatalf("poll 2: %d records, cursor %q; want 200, cursor 0", len(b2.Records), b2.Cursor)
			}
			for id := range ids(b2.Records) {
				seen[id]++
			}
			b3 := pollDurable(t, src, "0")
			if len(b3.Records) != 50 || b3.Cursor != "450" {
				t.Fatalf("poll 3: %d records, cursor %q; want the last 50 and cursor 450", len(b3.Records), b3.Cursor)
			}
			for id := range ids(b3.Records) {
				seen[id]++
			}
			if len(seen) != 450 {
				t.Fatalf("%d incidents read over three polls, want 450", len(seen))
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("incident %s read %d times", id, n)
				}
			}
			// The list read to its end: the next poll (from the new cursor) starts afresh.
			if b := pollDurable(t, src, "450"); len(b.Records) != 0 || b.Cursor != "450" {
				t.Fatalf("poll from 450: %d records, cursor %q", len(b.Records), b.Cursor)
			}
		})
	}
}

// TestPaginationPageFails: a page that fails fails the poll (no batch, nothing kept): the
// next poll reads from the first page again and the cursor never moved part-way.
func TestPaginationPageFails(t *testing.T) {
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			api, srv := pagedAPI(t, sim.CADAPIOptions{Paging: style, PageSize: 100}, 250)
			src := pagedSource(t, srv, style, nil)
			api.BeforePage(func(page int) int {
				if page == 3 {
					return http.StatusBadGateway
				}
				return 0
			})
			if b, err := src.Poll(context.Background(), "0"); err == nil {
				t.Fatalf("Poll with page 3 failing = %d records, cursor %q, no error", len(b.Records), b.Cursor)
			}
			src.emitted(context.Background(), adapters.Batch{}, nil) // nothing pending after a failed poll
			api.BeforePage(nil)
			b := pollDurable(t, src, "0")
			if len(ids(b.Records)) != 250 || b.Cursor != "250" {
				t.Fatalf("after the failure: %d incidents, cursor %q; want 250 and 250", len(ids(b.Records)), b.Cursor)
			}
		})
	}
}

// TestPaginationListShiftsBetweenPages: with page numbers or offsets, an incident of page
// 1 that changes before page 2 is asked moves to the end, and the incident that was first
// on page 2 slides onto page 1, which was read already: this poll misses it. The moved
// incident is listed twice, so the source keeps the cursor (which would otherwise pass
// the missed one for good) and the next poll, reading the list again, gets it.
func TestPaginationListShiftsBetweenPages(t *testing.T) {
	for _, style := range []string{sim.PageNumber, sim.PageOffset} {
		t.Run(style, func(t *testing.T) {
			api, srv := pagedAPI(t, sim.CADAPIOptions{Paging: style}, 250)
			src := pagedSource(t, srv, style, nil)
			first := api.CAD().Incidents()[0]
			moved := false
			api.BeforePage(func(page int) int {
				if page == 2 && !moved {
					moved = api.CAD().UpdateIncident(first)
				}
				return 0
			})
			b1 := pollDurable(t, src, "0")
			got := ids(b1.Records)
			if got[first] != 2 || len(got) != 249 {
				t.Fatalf("poll 1: %d distinct incidents, the moved one %d times; the sim did not shift the list as the test needs", len(got), got[first])
			}
			if b1.Cursor != "0" {
				t.Fatalf("poll 1 moved the cursor to %q past the incident it missed", b1.Cursor)
			}
			b2 := pollDurable(t, src, b1.Cursor)
			for id := range ids(b2.Records) {
				got[id]++
			}
			if len(got) != 250 {
				t.Fatalf("two polls read %d distinct incidents, want 250", len(got))
			}
			if b2.Cursor != "251" {
				t.Fatalf("poll 2 cursor %q, want 251 (the moved incident's change)", b2.Cursor)
			}
		})
	}
}

// TestPaginationNextLinkStaysOnBaseURL: a next link to another host is not followed (the
// CAD's credentials would go with it): the poll fails.
func TestPaginationNextLinkStaysOnBaseURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"IncidentNumber":1,"updated":1}],"links":{"next":"http://elsewhere.example/api/v2/incidents?offset=1"}}`))
	}))
	defer srv.Close()
	src := pagedSource(t, srv, sim.PageNext, nil)
	if _, err := src.Poll(context.Background(), "0"); err == nil {
		t.Fatal("a next link to another host was followed")
	}
}

func TestNextLinkHeader(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{`<https://a/x?page=2>; rel="next"`}, "https://a/x?page=2"},
		{[]string{`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"`}, "https://a/x?page=3"},
		{[]string{`<https://a/x?a=1,2>; title="a, b"; rel="last next"`}, "https://a/x?a=1,2"},
		{[]string{`<https://a/first>; rel=first`, `</rel/next>; REL=next`}, "/rel/next"},
		{[]string{`<https://a/x>; rel="nextish"`}, ""},
		{[]string{`garbage`, ``}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := nextLink(tt.in); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPaginationDuplicateWithinAPageIsNoShift: an incident listed twice on one page is the
// CAD's own answer, not a shift: the cursor moves (a list with duplicates must not hold it
// for good).
func TestPaginationDuplicateWithinAPageIsNoShift(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("offset") == "0" {
			_, _ = w.Write([]byte(`{"data":[{"IncidentNumber":1,"updated":1},{"IncidentNumber":1,"updated":2}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":[]}`))
	}))
	defer srv.Close()
	src := pagedSource(t, srv, sim.PageOffset, nil)
	if b := pollDurable(t, src, "0"); b.Cursor != "2" || len(b.Records) != 2 {
		t.Fatalf("cursor %q, %d records; want 2 and 2", b.Cursor, len(b.Records))
	}
}
