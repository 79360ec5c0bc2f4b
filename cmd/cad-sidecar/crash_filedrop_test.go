package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestFiledropSIGKILL: the real binary, SIGKILLed again and again while it takes a drop
// folder of 300 incident files (in batches of 100: a kill lands while records are emitted,
// between the emit and the moves, or among the moves). After the last start every file is
// in processed/ exactly once, none in failed/ or left behind, and every incident is linked:
// no file's records lost; a file re-taken after a kill was re-emitted harmlessly.
func TestFiledropSIGKILL(t *testing.T) {
	bin := sidecarBinary(t)
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 11, NotesPerCall: 1, NoteEvery: time.Hour})
	srv := httptest.NewServer(as)
	ctx, cancel := context.WithCancel(context.Background())
	as.Start(ctx)
	t.Cleanup(func() { cancel(); as.Close(); srv.Close() })

	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	logPath := filepath.Join(dir, "sidecar.log")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: ./data
log: {level: debug, format: text}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: %s, token: %s, webhook: {register: false, auth_token: e2e-webhook-auth-token-0123456789}}
cad:
  adapter: filedrop
  filedrop: {inbound: in, pattern: "*.json", format: json, stable_for: 100ms, rescan: 200ms}
mapping:
  incident_id: id
  fields: [{name: Nature, from: nature}]
outbox: {retry: {initial: 50ms, max: 500ms}}
`, srv.URL, rigToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("sidecar log (last 8 KiB):\n%s", b[max(0, len(b)-8192):])
		}
	})
	const files = 300
	want := make([]string, files)
	for i := range files {
		want[i] = fmt.Sprintf("INC-%04d.json", i)
		body := fmt.Sprintf(`{"id": "INC-%04d", "nature": "FIRE", "pad": %q}`, i, strings.Repeat("x", 2000))
		if err := os.WriteFile(filepath.Join(in, want[i]), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	processed := func() []string {
		es, _ := os.ReadDir(filepath.Join(in, "processed"))
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	kills := 0
	for kills < 8 {
		before := len(processed())
		if before == files {
			break
		}
		p := startSidecar(t, bin, cfg, logPath)
		// Kill at a different point each time: after a few more files moved, or before any.
		step := []int{0, 1, 7, 30, 55, 99, 3, 120}[kills]
		deadline := time.Now().Add(60 * time.Second)
		for len(processed()) < min(before+step, files) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		p.kill()
		kills++
	}
	p := startSidecar(t, bin, cfg, logPath)
	defer p.kill()
	waitFor(t, 60*time.Second, "every file processed after the last start", func() bool { return len(processed()) == files })
	waitFor(t, 60*time.Second, "every incident linked", func() bool { return len(as.Links()) == files })
	got := processed()
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("processed/ holds %d files, not exactly the %d dropped (a file taken twice gets a time suffix)", len(got), files)
	}
	left, _ := filepath.Glob(filepath.Join(in, "*.json"))
	failed, _ := os.ReadDir(filepath.Join(in, "failed"))
	if len(left) != 0 || len(failed) != 0 {
		t.Fatalf("%d files left in inbound, %d in failed/", len(left), len(failed))
	}
	t.Logf("%d kills; %d link requests for %d incidents (a link in flight at a kill is sent again: at least once)", kills, as.LinkRequests(), files)
}
