package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestCrashLoop runs the real binary while Assist sends notes continuously, SIGKILLs it 20
// times at random moments (restarting it each time), and then checks that every note the
// sidecar acknowledged reached the CAD, in order per incident. Duplicates are counted: the
// sidecar drops re-sent webhooks by idempotency key, and the simulated CAD honours the
// Idempotency-Key header the sidecar sends, so a note written just before a kill and
// written again after it is refused there.
func TestCrashLoop(t *testing.T) {
	bin := sidecarBinary(t)
	const kills = 20
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: int64(seed), DedupByKey: true, NewIncidentEvery: 400 * time.Millisecond})
	as := sim.NewAssist(sim.AssistOptions{
		Token: "crash-assist-token", Seed: int64(seed), NotesPerCall: 8, NoteEvery: 80 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond, PushTimeout: time.Second,
	})
	cadSrv := httptest.NewServer(cad)
	defer cadSrv.Close()
	asSrv := httptest.NewServer(as)
	defer asSrv.Close()
	defer as.Close()
	as.Start(ctx)

	dir := t.TempDir()
	public, admin := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`
data_dir: ./data
log: {level: debug, format: text}
server: {listen: %q, public_url: "http://%s"}
admin: {listen: %q}
assist:
  base_url: %s
  token: crash-assist-token
  webhook: {auth_token: crash-webhook-auth-token-0123456789}
cad:
  adapter: rest
  rest:
    base_url: %s/api
    poll: {schedule: "@every 1s", path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}
mapping:
  incident_id: IncidentNumber
  fields: [{name: Nature, from: Nature.Code}]
  note: {text: "{{.CreatedAt}}|{{.Note}}"}
outbox: {retry: {initial: 50ms, max: 500ms}}
`, public, public, admin, asSrv.URL, cadSrv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "sidecar.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("sidecar log (last 8 KiB):\n%s", b[max(0, len(b)-8192):])
		}
	}()

	for range 6 {
		cad.AddIncident()
	}
	cad.Start(ctx) // more incidents keep appearing while the sidecar is being killed
	p := startSidecar(t, bin, cfgPath, logPath)
	for i := range kills {
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		p.kill()
		p = startSidecar(t, bin, cfgPath, logPath)
		if i == kills/2 {
			cad.Close() // stop creating incidents; the calls already linked go on
		}
	}
	waitFor(t, 15*time.Second, "the last restart to serve", func() bool { return httpOK("http://" + admin + "/healthz") })
	waitFor(t, 120*time.Second, "every call finished and every acknowledged note in the CAD", func() bool {
		return as.Pending() == 0 && missing(cad, as) == 0
	})

	acked, stored := 0, 0
	for _, id := range cad.Incidents() {
		want := ackedTexts(as, id)
		acked += len(want)
		ackedSet := map[string]bool{}
		for _, w := range want {
			ackedSet[w] = true
		}
		seen := map[string]bool{}
		var order []string
		for _, n := range cad.Notes(id) {
			stored++
			if seen[n.Text] || !ackedSet[n.Text] {
				continue
			}
			seen[n.Text] = true
			order = append(order, n.Text)
		}
		if strings.Join(order, "\n") != strings.Join(want, "\n") {
			t.Errorf("incident %s: CAD order\n%s\nwant acknowledged order\n%s", id, strings.Join(order, "\n"), strings.Join(want, "\n"))
		}
	}
	if acked == 0 {
		t.Fatal("no note was acknowledged: the test proved nothing")
	}
	ps := as.PushStats()
	t.Logf("kills=%d acknowledged=%d delivered=%d cad_rows_beyond_acknowledged=%d duplicates_refused_by_idempotency_key=%d webhook_pushes=%d failed_pushes=%d links=%d",
		kills, acked, cad.NoteCount(), stored-acked, cad.Duplicates(), ps.Attempted, ps.Failed, as.LinkCount())
}
