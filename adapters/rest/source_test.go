package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// newTest builds the adapter against srv with the defaults plus edit.
func newTest(t *testing.T, srv *httptest.Server, edit func(c *Config)) (*Source, *Sink) {
	t.Helper()
	c := NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Poll.Path = "/incidents?since={{.Cursor}}"
	c.Poll.Items = "data"
	c.Poll.CursorField = "updated"
	c.Timeout = 5 * time.Second
	if edit != nil {
		edit(c)
	}
	src, sink, err := New(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return src, sink
}

func TestPollItemsAndCursor(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Path != "/api/incidents" || r.Method != "GET" {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Query().Get("since") {
		case "":
			w.Write([]byte(`{"data":[{"IncidentNumber":260045123,"updated":9},{"IncidentNumber":260045124,"updated":12},{"IncidentNumber":260045125,"updated":10}]}`))
		case "12":
			w.Write([]byte(`{"data":[]}`))
		default:
			w.Write([]byte(`{"data":null}`))
		}
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, nil)
	ctx := context.Background()

	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 3 || b.Cursor != "12" {
		t.Fatalf("got %d records, cursor %q; want 3, 12", len(b.Records), b.Cursor)
	}
	if b.CursorFrom != 2 { // the second record carried it
		t.Fatalf("CursorFrom = %d, want 2", b.CursorFrom)
	}
	if n, ok := b.Records[0]["IncidentNumber"].(json.Number); !ok || n.String() != "260045123" {
		t.Fatalf("IncidentNumber = %#v, want json.Number 260045123", b.Records[0]["IncidentNumber"])
	}
	b, err = src.Poll(ctx, b.Cursor)
	if err != nil || len(b.Records) != 0 || b.Cursor != "12" || b.CursorFrom != 0 {
		t.Fatalf("second poll: %v, %d records, cursor %q from %d", err, len(b.Records), b.Cursor, b.CursorFrom)
	}
	// A cursor needing escaping arrives intact; a null list is empty; the cursor never goes back.
	b, err = src.Poll(ctx, "a b&c=d")
	if err != nil || len(b.Records) != 0 || b.Cursor != "a b&c=d" {
		t.Fatalf("third poll: %v, %d records, cursor %q", err, len(b.Records), b.Cursor)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"since=", "since=12", "since=a+b%26c%3Dd"}
	if strings.Join(queries, " ") != strings.Join(want, " ") {
		t.Fatalf("queries %q, want %q", queries, want)
	}
}

func TestPollBodyIsList(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"id":"a","ts":"2026-01-02T10:00:00Z"},{"id":"b","ts":"2026-01-02T09:00:00Z"}]`))
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, func(c *Config) {
		c.Poll.Path = "/incidents?after={{query .RawCursor}}"
		c.Poll.Items = ""
		c.Poll.CursorField = "ts"
	})
	b, err := src.Poll(context.Background(), "2026-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 2 || b.Cursor != "2026-01-02T10:00:00Z" {
		t.Fatalf("got %d records, cursor %q", len(b.Records), b.Cursor)
	}
	// An incoming cursor above every record's is kept.
	b, err = src.Poll(context.Background(), "2027-01-01T00:00:00Z")
	if err != nil || b.Cursor != "2027-01-01T00:00:00Z" {
		t.Fatalf("cursor went back: %v %q", err, b.Cursor)
	}
}

func TestPollNumericCursorComparesAsNumbers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[{"updated":9},{"updated":100},{"updated":"x"}, {"other":1}]}`))
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, func(c *Config) { c.Poll.CursorField = "updated" })
	b, err := src.Poll(context.Background(), "10")
	if err != nil {
		t.Fatal(err)
	}
	// "x" is not a number: compared as a string, it is above "100".
	if b.Cursor != "x" {
		t.Fatalf("cursor %q", b.Cursor)
	}
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[{"updated":9},{"updated":100}]}`))
	}))
	defer srv2.Close()
	src, _ = newTest(t, srv2, nil)
	if b, err = src.Poll(context.Background(), "10"); err != nil || b.Cursor != "100" {
		t.Fatalf("cursor %q, %v; want 100 (numeric compare)", b.Cursor, err)
	}
}

func TestPollBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body, items, want string
	}{
		{"non-object item", `{"data":[{"a":1},42]}`, "data", "record 1 is a number, not an object"},
		{"missing items", `{"rows":[]}`, "data", `poll.items "data" not found`},
		{"not a list", `{"data":{"a":1}}`, "data", `poll.items "data" is an object, not a list`},
		{"nested items", `{"result":{"data":[1]}}`, "result.data", "record 0 is a number"},
		{"not JSON", `<html>`, "data", "answer is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			src, _ := newTest(t, srv, func(c *Config) { c.Poll.Items = tc.items })
			_, err := src.Poll(context.Background(), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPollErrorsClassified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "k" {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Retry-After", "7")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, nil)
	_, err := src.Poll(context.Background(), "")
	// A rejected key is the operator's to fix; the poll is retried, never given up.
	if delivery.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("401: %v", err)
	}
	src, _ = newTest(t, srv, func(c *Config) { c.Headers = map[string]string{"X-Api-Key": "k"} })
	_, err = src.Poll(context.Background(), "")
	if d, ok := delivery.RetryDelay(err); !ok || d != 7*time.Second || delivery.IsPermanent(err) {
		t.Fatalf("503: %v (delay %v %v)", err, d, ok)
	}
}

func TestSchedule(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	src, _ := newTest(t, srv, nil)
	if src.Schedule() != DefaultSchedule {
		t.Fatalf("Schedule() = %q", src.Schedule())
	}
}

// poll.format xml and csv: a CAD that answers in XML (one <Incident> is one record, several
// are a list) or CSV (every row is a record).
func TestPollXMLAndCSV(t *testing.T) {
	tests := []struct {
		name, format, items, body string
		want                      []string // IncidentNumber of each record
		cursor                    string
	}{
		{"xml list", "xml", "Incident", `<?xml version="1.0"?>
<cad:Incidents xmlns:cad="urn:cad">
  <cad:Incident id="a"><cad:IncidentNumber>7</cad:IncidentNumber><cad:updated>11</cad:updated></cad:Incident>
  <cad:Incident id="b"><cad:IncidentNumber>8</cad:IncidentNumber><cad:updated>12</cad:updated></cad:Incident>
</cad:Incidents>`, []string{"7", "8"}, "12"},
		{"xml single", "xml", "Incident", `<Incidents><Incident><IncidentNumber>9</IncidentNumber><updated>3</updated></Incident></Incidents>`, []string{"9"}, "3"},
		{"xml none", "xml", "Incident", `<Incidents/>`, nil, ""},
		{"csv", "csv", "", "IncidentNumber,updated,Remarks\n5,20,\"smoke, \"\"heavy\"\"\"\n6,21,x\n", []string{"5", "6"}, "21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			src, _ := newTest(t, srv, func(c *Config) { c.Poll.Format, c.Poll.Items = tt.format, tt.items })
			b, err := src.Poll(context.Background(), "")
			if tt.name == "xml none" {
				if err == nil || !strings.Contains(err.Error(), `poll.items "Incident" not found`) {
					t.Fatalf("want items not found, got %v %+v", err, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range b.Records {
				got = append(got, fmt.Sprint(r["IncidentNumber"]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || b.Cursor != tt.cursor {
				t.Fatalf("records %v cursor %q, want %v %q", got, b.Cursor, tt.want, tt.cursor)
			}
		})
	}
}

// TestPollFutureCursorSkipped: a record whose cursor_field reads as a time later than now +
// Deps.CursorTolerance (a record stamped 2099, in RFC 3339 or Unix seconds) is still a
// record, but the cursor advances over the others only; the largest skipped value and its
// record are reported. Small numbers (a change sequence) are not times and never skipped;
// a tolerance of 0 turns the check off.
func TestPollFutureCursorSkipped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("kind") {
		case "unix":
			w.Write([]byte(`{"data":[{"id":"a","updated":1764590000},{"id":"fut","updated":4070908800},{"id":"b","updated":1764590100}]}`))
		case "seq":
			w.Write([]byte(`{"data":[{"id":"a","updated":41},{"id":"b","updated":42}]}`))
		default:
			w.Write([]byte(`{"data":[{"id":"a","updated":"2026-11-25T10:00:00Z"},{"id":"fut","updated":"2099-01-01T00:00:00Z"},` +
				`{"id":"fut2","updated":"2098-01-01T00:00:00Z"},{"id":"b","updated":"2026-11-25T11:00:00Z"}]}`))
		}
	}))
	defer srv.Close()
	build := func(tol time.Duration, query string) *Source {
		c := NewConfig()
		c.BaseURL = srv.URL
		c.Poll.Path = "/incidents?" + query + "&since={{.Cursor}}"
		c.Poll.Items = "data"
		c.Poll.CursorField = "updated"
		src, _, err := New(c, adapters.Deps{CursorTolerance: tol})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	for _, tc := range []struct {
		name, query string
		tol         time.Duration
		cursor      string
		from        int
		future      string
		futureFrom  int
	}{
		{"rfc3339", "kind=rfc", 5 * time.Minute, "2026-11-25T11:00:00Z", 4, "2099-01-01T00:00:00Z", 2},
		{"unix seconds", "kind=unix", 5 * time.Minute, "1764590100", 3, "4070908800", 2},
		{"sequence", "kind=seq", 5 * time.Minute, "42", 2, "", 0},
		{"tolerance 0", "kind=rfc", 0, "2099-01-01T00:00:00Z", 2, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := build(tc.tol, tc.query).Poll(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Records) < 2 || b.Cursor != tc.cursor || b.CursorFrom != tc.from || b.FutureCursor != tc.future || b.FutureFrom != tc.futureFrom {
				t.Fatalf("%d records, cursor %q from %d, future %q from %d; want cursor %q from %d, future %q from %d",
					len(b.Records), b.Cursor, b.CursorFrom, b.FutureCursor, b.FutureFrom, tc.cursor, tc.from, tc.future, tc.futureFrom)
			}
			if b.CursorKind != adapters.CursorUnknown {
				t.Fatalf("CursorKind = %q, want unknown (the host keeps guessing a REST cursor)", b.CursorKind)
			}
		})
	}
}
