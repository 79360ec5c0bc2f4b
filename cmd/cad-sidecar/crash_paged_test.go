package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// pagedBench is the real binary against a vendor-style CAD API (sim.CADAPI: a paged list
// behind OAuth2 client credentials, the secret in a file) and the simulated Assist.
type pagedBench struct {
	bin, cfg, logPath string
	api               *sim.CADAPI
	as                *sim.Assist
}

// newPagedBench serves a CADAPI over n incidents; section is the cad.rest.poll section's
// pagination and detail lines (indented by 6).
func newPagedBench(t *testing.T, n int, o sim.CADAPIOptions, pollExtra string) *pagedBench {
	t.Helper()
	b := &pagedBench{bin: sidecarBinary(t)}
	cad := sim.NewCAD(sim.CADOptions{Seed: 21})
	for range n {
		cad.AddIncident()
	}
	o.OAuth2 = &sim.OAuth2Client{ID: "sidecar", Secret: "paged-bench-client-secret", TTL: time.Hour}
	b.api = sim.NewCADAPI(cad, o)
	b.as = sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 21, NotesPerCall: 1, NoteEvery: time.Hour})
	cadSrv, asSrv := httptest.NewServer(b.api), httptest.NewServer(b.as)
	ctx, cancel := context.WithCancel(context.Background())
	b.as.Start(ctx)
	t.Cleanup(func() { cancel(); b.as.Close(); asSrv.Close(); cadSrv.Close() })

	dir := t.TempDir()
	b.cfg, b.logPath = filepath.Join(dir, "config.yaml"), filepath.Join(dir, "sidecar.log")
	if err := os.WriteFile(filepath.Join(dir, "client_secret"), []byte("paged-bench-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`data_dir: ./data
log: {level: info, format: text}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: %s, token: %s, webhook: {register: false, auth_token: e2e-webhook-auth-token-0123456789}}
cad:
  adapter: rest
  rest:
    base_url: %s/api
    auth:
      oauth2: {token_url: %s/oauth/token, client_id: sidecar, client_secret_file: client_secret, scopes: [incidents.read]}
    poll:
      schedule: "@every 1s"
      path: "/v2/incidents?since={{.Cursor}}"
      items: data
      cursor_field: updated
%s
    write_note: {path: "/v2/incidents/{{.IncidentID}}/notes"}
mapping:
  incident_id: IncidentNumber
  fields: [{name: Nature, from: Nature.Code, required: true}]
outbox: {retry: {initial: 50ms, max: 500ms}}
`, asSrv.URL, rigToken, cadSrv.URL, cadSrv.URL, pollExtra)
	if err := os.WriteFile(b.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l, _ := os.ReadFile(b.logPath)
			t.Logf("sidecar log (last 8 KiB):\n%s", l[max(0, len(l)-8192):])
		}
	})
	return b
}

var queuedLine = regexp.MustCompile(`msg="incident queued for linking" incident_id=(\S+)`)

// queuedTwice checks the binary's log: no incident was queued for linking twice, none
// queued for re-linking (its record would have changed: a summary instead of its detail).
func (b *pagedBench) checkNoRelinks(t *testing.T) {
	t.Helper()
	logs, err := os.ReadFile(b.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logs), "queued for re-linking") {
		t.Fatal("an incident was queued for re-linking: its record changed between two reads")
	}
	seen := map[string]int{}
	for _, m := range queuedLine.FindAllStringSubmatch(string(logs), -1) {
		seen[m[1]]++
		if seen[m[1]] > 1 {
			t.Fatalf("incident %s queued for linking twice", m[1])
		}
	}
}

// TestPaged2500LinkedOnce: a poll of 2,500 changed incidents in pages of 100 (links.next,
// OAuth2) through the real binary links every one exactly once, and later polls link none
// again.
func TestPaged2500LinkedOnce(t *testing.T) {
	const n = 2500
	b := newPagedBench(t, n, sim.CADAPIOptions{Paging: sim.PageNext, PageSize: 100}, `      pagination: {next: links.next}`)
	p := startSidecar(t, b.bin, b.cfg, b.logPath)
	defer p.kill()
	waitFor(t, 180*time.Second, "all 2,500 incidents linked", func() bool { return b.as.LinkCount() == n })
	pages := b.api.ListRequests()
	waitFor(t, 30*time.Second, "two more polls", func() bool { return b.api.ListRequests() >= pages+2 })
	if got := b.as.LinkRequests(); got != n {
		t.Fatalf("%d link requests for %d incidents, want exactly one each", got, n)
	}
	b.checkNoRelinks(t)
	if pages < n/100 {
		t.Fatalf("%d page requests for %d incidents in pages of 100", pages, n)
	}
}

// TestPagedPollSIGKILL: the real binary reads 2,500 incidents listed by id in pages of 100,
// three pages a poll, each record its detail (pages and details slowed so that kills land
// inside polls: among the pages, among the details, while the batch is queued); it is
// SIGKILLed again and again. After the last start every incident is linked, none was
// queued twice or re-linked (a summary emitted instead of a detail would be).
func TestPagedPollSIGKILL(t *testing.T) {
	const n = 2500
	b := newPagedBench(t, n, sim.CADAPIOptions{Paging: sim.PageNext, PageSize: 100, Summary: true},
		`      pagination: {next: links.next, max_pages: 3}
      detail: {path: "/v2/incidents/{{.Id}}", concurrency: 8}`)
	b.api.SetPageDelay(40 * time.Millisecond)
	b.api.SetDetailDelay(2 * time.Millisecond)
	// Each kill comes at another stage of a poll: among its pages (three a poll), among its
	// details, or while its batch is queued and its links go out.
	type stage struct {
		what  string
		count func() int
		more  int
	}
	pages := stage{"page requests", b.api.ListRequests, 0}
	details := stage{"detail requests", b.api.AllDetailRequests, 0}
	links := stage{"link requests", b.as.LinkRequests, 0}
	plan := []stage{
		{pages.what, pages.count, 2}, {details.what, details.count, 150}, {links.what, links.count, 100},
		{pages.what, pages.count, 2}, {details.what, details.count, 40}, {links.what, links.count, 250},
		{pages.what, pages.count, 1}, {links.what, links.count, 30}, {details.what, details.count, 280},
	}
	kills := 0
	for _, s := range plan {
		from := s.count()
		p := startSidecar(t, b.bin, b.cfg, b.logPath)
		waitFor(t, 120*time.Second, fmt.Sprintf("%d more %s", s.more, s.what), func() bool { return s.count() >= from+s.more || b.as.LinkCount() == n })
		p.kill()
		kills++
	}
	p := startSidecar(t, b.bin, b.cfg, b.logPath)
	defer p.kill()
	waitFor(t, 240*time.Second, "all 2,500 incidents linked after the last start", func() bool { return b.as.LinkCount() == n })
	served := b.api.ListRequests()
	waitFor(t, 30*time.Second, "two more polls", func() bool { return b.api.ListRequests() >= served+2 })
	b.checkNoRelinks(t)
	if b.as.LinkCount() != n {
		t.Fatalf("%d incidents linked, want %d", b.as.LinkCount(), n)
	}
	t.Logf("%d kills; %d link requests for %d incidents (a link in flight at a kill is sent again: at least once); %d page requests; %d tokens",
		kills, b.as.LinkRequests(), n, b.api.ListRequests(), b.api.TokenRequests())
}
