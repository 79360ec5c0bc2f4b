package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

func compileMapping(t *testing.T, c mapping.Config) *mapping.Mapper {
	t.Helper()
	m, probs := mapping.Compile(c)
	if len(probs) > 0 {
		t.Fatalf("mapping: %v", probs)
	}
	return m
}

func memoMapping(t *testing.T, from string) *mapping.Mapper {
	return compileMapping(t, mapping.Config{
		IncidentID: "id",
		Filter:     `status != "CLOSED"`,
		Fields:     []mapping.Field{{Name: "Nature", From: from}, {Name: "Where", Expr: `addr + " " + city`}},
	})
}

func memoRecords() []adapters.Record {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return []adapters.Record{
		{"id": "A", "status": "OPEN", "nature": "FIRE", "code": "F1", "addr": "1 Main", "city": "X", "at": at, "n": int64(1)},
		{"id": "B", "status": "CLOSED", "nature": "EMS", "code": "E1", "addr": "2 Main", "city": "X", "at": at},
		{"id": "C", "status": "OPEN", "nature": "EMS", "code": "E2", "addr": "3 Main", "city": "Y", "rows": []any{map[string]any{"k": 1.5}}},
		{"id": "D", "status": "OPEN", "code": "X", "addr": "4 Main", "city": "Z", "odd": struct{ X int }{1}}, // no fingerprint: always mapped
		{"status": "OPEN", "nature": "NONE"}, // no incident id: fails
	}
}

// summary is what a caller of Detect uses of a change.
func summary(cs []sidecar.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%d/%s/%s/%s/%v", c.Outcome, c.IncidentID, c.Hash, c.Reason, c.Err != nil))
	}
	return out
}

// known is the hash store of a poll loop: what the last Queue set.
type knownHashes map[string]string

func (k knownHashes) get(id string) string { return k[id] }

func (k knownHashes) take(cs []sidecar.Change) {
	for _, c := range cs {
		if c.Outcome == sidecar.Queue {
			k[c.IncidentID] = c.Hash
		}
	}
}

// TestDetectWithMemo: with a Memo, every poll's outcomes are exactly Detect's — for
// unchanged, changed, filtered, failed records, records without a fingerprint, and hashes
// the caller forgot.
func TestDetectWithMemo(t *testing.T) {
	m := memoMapping(t, "nature")
	memo := &sidecar.Memo{}
	known := knownHashes{}
	recs := memoRecords()
	polls := []struct {
		name string
		edit func(recs []adapters.Record, known knownHashes)
	}{
		{"first poll: all new", func([]adapters.Record, knownHashes) {}},
		{"steady: the same rows again", func([]adapters.Record, knownHashes) {}},
		{"A changed in a mapped column", func(r []adapters.Record, _ knownHashes) { r[0]["nature"] = "SMOKE" }},
		{"A changed in an unmapped column only", func(r []adapters.Record, _ knownHashes) { r[0]["n"] = int64(2) }},
		{"C changed inside a nested list", func(r []adapters.Record, _ knownHashes) { r[2]["city"] = "W" }},
		{"B no longer filtered", func(r []adapters.Record, _ knownHashes) { r[1]["status"] = "OPEN" }},
		{"the caller forgot A's hash", func(_ []adapters.Record, k knownHashes) { delete(k, "A") }},
		{"the caller holds another hash for C", func(_ []adapters.Record, k knownHashes) { k["C"] = "other" }},
		{"steady again", func([]adapters.Record, knownHashes) {}},
	}
	for _, p := range polls {
		p.edit(recs, known)
		want := summary(sidecar.Detect(m, recs, known.get))
		got := sidecar.DetectWith(m, recs, known.get, memo)
		if fmt.Sprint(summary(got)) != fmt.Sprint(want) {
			t.Fatalf("%s:\n got %v\nwant %v", p.name, summary(got), want)
		}
		for i, c := range got {
			if c.Outcome == sidecar.Queue && c.Request.IncidentID == "" {
				t.Errorf("%s: record %d queued without its request", p.name, i)
			}
		}
		known.take(got)
	}
}

// TestDetectWithMemoAfterReload: a new mapping (a reload) is never judged by what the
// memo remembers of the old one: the same raw records map to the new mapping's requests.
func TestDetectWithMemoAfterReload(t *testing.T) {
	old, reloaded := memoMapping(t, "nature"), memoMapping(t, "code")
	memo := &sidecar.Memo{}
	known := knownHashes{}
	recs := memoRecords()
	known.take(sidecar.DetectWith(old, recs, known.get, memo))
	if got := summary(sidecar.DetectWith(old, recs, known.get, memo)); got[0] != fmt.Sprintf("%d/A/%s//false", sidecar.Unchanged, known["A"]) {
		t.Fatalf("steady poll with the old mapping: %v", got)
	}
	got := sidecar.DetectWith(reloaded, recs, known.get, memo)
	want := sidecar.Detect(reloaded, recs, known.get)
	if fmt.Sprint(summary(got)) != fmt.Sprint(summary(want)) {
		t.Fatalf("after the reload:\n got %v\nwant %v", summary(got), summary(want))
	}
	if got[0].Outcome != sidecar.Queue || got[0].Request.Fields[0].Value != "F1" {
		t.Errorf("A after the reload: %+v, want queued with the new mapping's Nature F1", got[0])
	}
}

// TestDetectWithMemoImpureMapping: a mapping that reads the clock (now()) maps every time.
func TestDetectWithMemoImpureMapping(t *testing.T) {
	m := compileMapping(t, mapping.Config{
		IncidentID: "id",
		Fields:     []mapping.Field{{Name: "Seen", Expr: `string(now().UnixNano())`}},
	})
	if m.Pure() {
		t.Fatal("a mapping calling now() reported pure")
	}
	if !memoMapping(t, "nature").Pure() {
		t.Fatal("a mapping of the record alone reported not pure")
	}
	memo := &sidecar.Memo{}
	known := knownHashes{}
	recs := []adapters.Record{{"id": "A"}}
	known.take(sidecar.DetectWith(m, recs, known.get, memo))
	for range 3 {
		c := sidecar.DetectWith(m, recs, known.get, memo)[0]
		want := sidecar.Detect(m, recs, known.get)[0]
		// (Equal outcomes whichever way the clock moved between the two calls; with the
		// memo used, Unchanged against Detect's Queue once it moved.)
		if c.Outcome != want.Outcome {
			t.Fatalf("with the memo %v, without %v", c.Outcome, want.Outcome)
		}
		known.take([]sidecar.Change{c})
	}
}

// staticCAD lists the same records at every poll, whatever the cursor (a CAD whose
// overlap re-reads everything).
type staticCAD struct{}

func (staticCAD) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var out []map[string]any
	for i := range 3 {
		out = append(out, map[string]any{"IncidentNumber": fmt.Sprintf("S-%d", i), "Status": "OPEN", "Pri": 1, "updated": "2026-11-25T10:00:00Z"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": out})
}

// TestReloadedMappingRelinksUnchangedRecords: records that do not change are re-linked
// when a reload changes what they map to — the memo of the old mapping's outcomes does not
// make them look unchanged.
func TestReloadedMappingRelinksUnchangedRecords(t *testing.T) {
	srv := httptest.NewServer(staticCAD{})
	defer srv.Close()
	e := start(t, envOptions{cadURL: srv.URL})
	waitFor(t, 20*time.Second, "the three incidents linked", func() bool { return e.as.LinkCount() == 3 })
	// A few more polls: the records are now remembered as unchanged.
	polls := e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok")
	waitFor(t, 20*time.Second, "two more polls", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "ok") >= polls+2
	})
	if n := e.as.LinkRequests(); n != 3 {
		t.Fatalf("%d link requests before the reload, want 3", n)
	}
	cfg, err := os.ReadFile(e.cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	const old = "    - {name: Priority, from: Pri}\n"
	if !strings.Contains(string(cfg), old) {
		t.Fatalf("config lacks %q", old)
	}
	edited := strings.Replace(string(cfg), old, old+"    - {name: Mapped, value: v2}\n", 1)
	if err := os.WriteFile(e.cfg.File, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the unchanged incidents re-linked with the reloaded mapping", func() bool {
		for i := range 3 {
			req, ok := e.as.LastLink(fmt.Sprintf("S-%d", i))
			if !ok || len(req.Fields) == 0 || req.Fields[len(req.Fields)-1].Name != "Mapped" {
				return false
			}
		}
		return true
	})
}
