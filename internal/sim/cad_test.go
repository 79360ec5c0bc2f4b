package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/rest"
)

func newCAD(t *testing.T, o CADOptions) (*CAD, *httptest.Server) {
	t.Helper()
	c := NewCAD(o)
	srv := httptest.NewServer(c)
	t.Cleanup(func() { srv.Close(); c.Close() })
	return c, srv
}

func get(t *testing.T, url string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func post(t *testing.T, url, body string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// list GETs /api/incidents?since= and returns the records (numbers as json.Number).
func list(t *testing.T, base, since string) []map[string]any {
	t.Helper()
	code, _, b := get(t, base+"/api/incidents?since="+since, nil)
	if code != 200 {
		t.Fatalf("list: %d %s", code, b)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out struct{ Data []map[string]any }
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

func TestCADSinceCursor(t *testing.T) {
	c, srv := newCAD(t, CADOptions{Seed: 1})
	if got := list(t, srv.URL, ""); len(got) != 0 {
		t.Fatalf("new CAD has %d incidents", len(got))
	}
	a, b, _ := c.AddIncident(), c.AddIncident(), c.AddIncident()
	all := list(t, srv.URL, "")
	if len(all) != 3 || all[0]["updated"].(json.Number) != "1" || all[2]["updated"].(json.Number) != "3" {
		t.Fatalf("all: %v", all)
	}
	n, ok := all[0]["IncidentNumber"].(json.Number)
	if !ok || n.String() != a {
		t.Fatalf("IncidentNumber %#v, want number %s", all[0]["IncidentNumber"], a)
	}
	if nat := all[0]["Nature"].(map[string]any); nat["Code"] == "" || all[0]["Status"] != "OPEN" {
		t.Fatalf("record %v", all[0])
	}
	if got := list(t, srv.URL, "3"); len(got) != 0 {
		t.Fatalf("since 3: %v", got)
	}
	if !c.UpdateIncident(b) || c.UpdateIncident("nope") {
		t.Fatal("UpdateIncident")
	}
	got := list(t, srv.URL, "3")
	if len(got) != 1 || got[0]["IncidentNumber"].(json.Number).String() != b || got[0]["updated"].(json.Number) != "4" || got[0]["Status"] != "DISPATCHED" {
		t.Fatalf("since 3 after update: %v", got)
	}
	if got := list(t, srv.URL, "1"); len(got) != 2 || got[0]["updated"].(json.Number) != "3" {
		t.Fatalf("since 1: %v (want oldest change first)", got)
	}
	if code, _, _ := get(t, srv.URL+"/api/incidents?since=x", nil); code != 400 {
		t.Fatalf("bad since: %d", code)
	}
	if ids := c.Incidents(); len(ids) != 3 || ids[1] != b {
		t.Fatalf("Incidents %v", ids)
	}
}

func TestCADNotes(t *testing.T) {
	c, srv := newCAD(t, CADOptions{Seed: 1})
	id := c.AddIncident()
	url := srv.URL + "/api/incidents/" + id + "/notes"
	if code := post(t, url, `{"text":"one","critical":true}`, map[string]string{"Idempotency-Key": "k1"}); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if code := post(t, url, `{"text":"two","extra":[1]}`, nil); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if code := post(t, srv.URL+"/api/incidents/999/notes", `{"text":"x"}`, nil); code != 404 {
		t.Fatalf("unknown incident: %d", code)
	}
	if code := post(t, url, `[1]`, nil); code != 400 {
		t.Fatalf("not an object: %d", code)
	}
	notes := c.Notes(id)
	if len(notes) != 2 || notes[0].Text != "one" || !notes[0].Critical || notes[0].Key != "k1" || notes[1].Text != "two" || notes[1].Key != "" || c.NoteCount() != 2 {
		t.Fatalf("notes %+v", notes)
	}
	code, _, b := get(t, url, nil)
	var out struct{ Notes []CADNote }
	if err := json.Unmarshal(b, &out); code != 200 || err != nil || len(out.Notes) != 2 || out.Notes[0].Key != "k1" {
		t.Fatalf("GET notes: %d %s", code, b)
	}
}

func TestCADFaults(t *testing.T) {
	c, srv := newCAD(t, CADOptions{Seed: 1, APIKey: "key"})
	id := c.AddIncident()
	if code, _, _ := get(t, srv.URL+"/api/incidents", nil); code != 401 {
		t.Fatalf("no key: %d", code)
	}
	if code, _, _ := get(t, srv.URL+"/api/incidents", map[string]string{"X-Api-Key": "key"}); code != 200 {
		t.Fatalf("key: %d", code)
	}
	if code, _, _ := get(t, srv.URL+"/api/incidents", map[string]string{"Authorization": "Bearer key"}); code != 200 {
		t.Fatalf("bearer: %d", code)
	}
	c.SetDown(true)
	code, h, _ := get(t, srv.URL+"/api/incidents", map[string]string{"X-Api-Key": "key"})
	if code != 503 || h.Get("Retry-After") != "1" {
		t.Fatalf("down: %d %v", code, h)
	}
	if code := post(t, srv.URL+"/api/incidents/"+id+"/notes", `{"text":"x"}`, map[string]string{"X-Api-Key": "key"}); code != 503 {
		t.Fatalf("down note: %d", code)
	}
	c.SetDown(false)
	c.SetNoteDelay(50 * time.Millisecond)
	start := time.Now()
	if code := post(t, srv.URL+"/api/incidents/"+id+"/notes", `{"text":"x"}`, map[string]string{"X-Api-Key": "key"}); code != 201 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("delayed note: %d after %v", code, time.Since(start))
	}
}

func TestCADGeneratorAndDeterminism(t *testing.T) {
	c, _ := newCAD(t, CADOptions{Seed: 42, NewIncidentEvery: 2 * time.Millisecond, ChangeEvery: 3 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for len(c.Incidents()) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("generator made no incidents")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	n := len(c.Incidents())
	time.Sleep(10 * time.Millisecond)
	if len(c.Incidents()) != n {
		t.Fatal("generator still running after Close")
	}

	x, y := NewCAD(CADOptions{Seed: 9}), NewCAD(CADOptions{Seed: 9})
	for range 5 {
		ix, _ := x.Incident(x.AddIncident())
		iy, _ := y.Incident(y.AddIncident())
		if ix != iy {
			t.Fatalf("same seed, different incidents: %+v %+v", ix, iy)
		}
	}
}

// TestRESTAdapterAgainstCAD runs the rest adapter, configured as in DESIGN.md's example,
// against the simulated CAD.
func TestRESTAdapterAgainstCAD(t *testing.T) {
	c, srv := newCAD(t, CADOptions{Seed: 3, APIKey: "key"})
	f, ok := adapters.Lookup("rest")
	if !ok {
		t.Fatal("rest adapter not registered")
	}
	cfg := f.NewConfig().(*rest.Config)
	cfg.BaseURL = srv.URL + "/api"
	cfg.Headers = map[string]string{"X-Api-Key": "key"}
	cfg.Poll.Path = "/incidents?since={{.Cursor}}"
	cfg.Poll.Items = "data"
	cfg.Poll.CursorField = "updated"
	if p := f.Validate(cfg); len(p) > 0 {
		t.Fatal(p)
	}
	s, sink, err := f.New(cfg, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	src := s.(*rest.Source)
	id := c.AddIncident()
	c.AddIncident()
	ctx := context.Background()
	b, err := src.Poll(ctx, "")
	if err != nil || len(b.Records) != 2 || b.Cursor != "2" {
		t.Fatalf("poll: %v %d %q", err, len(b.Records), b.Cursor)
	}
	c.UpdateIncident(id)
	if b, err = src.Poll(ctx, b.Cursor); err != nil || len(b.Records) != 1 || b.Cursor != "3" {
		t.Fatalf("poll 2: %v %d %q", err, len(b.Records), b.Cursor)
	}
	if err := sink.WriteNote(ctx, adapters.Note{IncidentID: id, Text: `[Assist] "quoted"`, Critical: true, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if n := c.Notes(id); len(n) != 1 || n[0].Text != `[Assist] "quoted"` || !n[0].Critical || n[0].Key != "k" {
		t.Fatalf("notes %+v", n)
	}
}

func TestCADDedupByKey(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		c, srv := newCAD(t, CADOptions{Seed: 1, DedupByKey: dedup})
		id := c.AddIncident()
		url := srv.URL + "/api/incidents/" + id + "/notes"
		codes := []int{
			post(t, url, `{"text":"one"}`, map[string]string{"Idempotency-Key": "k1"}),
			post(t, url, `{"text":"one"}`, map[string]string{"Idempotency-Key": "k1"}),
			post(t, url, `{"text":"no key"}`, nil),
			post(t, url, `{"text":"no key"}`, nil),
		}
		wantNotes, wantDups, second := 4, 0, 201
		if dedup {
			wantNotes, wantDups, second = 3, 1, 200
		}
		if codes[0] != 201 || codes[1] != second || codes[2] != 201 || codes[3] != 201 {
			t.Fatalf("dedup=%v: codes %v", dedup, codes)
		}
		if len(c.Notes(id)) != wantNotes || c.Duplicates() != wantDups {
			t.Fatalf("dedup=%v: %d notes, %d duplicates", dedup, len(c.Notes(id)), c.Duplicates())
		}
	}
}

// RefuseNotesFor refuses one incident's notes (422 with the reason) until AllowNotesFor.
func TestCADRefuseAndAllowNotesFor(t *testing.T) {
	c, srv := newCAD(t, CADOptions{Seed: 1})
	id, other := c.AddIncident(), c.AddIncident()
	c.RefuseNotesFor(id, "record locked")
	if code := post(t, srv.URL+"/api/incidents/"+id+"/notes", `{"text":"x"}`, nil); code != 422 {
		t.Fatalf("refused incident: %d", code)
	}
	if code := post(t, srv.URL+"/api/incidents/"+other+"/notes", `{"text":"y"}`, nil); code != 201 {
		t.Fatalf("other incident: %d", code)
	}
	c.AllowNotesFor(id)
	if code := post(t, srv.URL+"/api/incidents/"+id+"/notes", `{"text":"x"}`, nil); code != 201 || len(c.Notes(id)) != 1 {
		t.Fatalf("allowed again: %d, notes %v", code, c.Notes(id))
	}
}
