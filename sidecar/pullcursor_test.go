package sidecar_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The notes puller's cursor is persisted: once a call's notes are written, neither a later
// pull nor a pull after a restart fetches them again — counted at the simulated Assist,
// since deduplication would hide the re-fetching from the CAD.
func TestPullCursorSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: 3})
	as := sim.NewAssist(sim.AssistOptions{Token: assistToken, Seed: 3, NotesPerCall: 3, NoteEvery: 20 * time.Millisecond})
	cadSrv, asSrv := httptest.NewServer(cad), httptest.NewServer(as)
	cad.Start(ctx)
	as.Start(ctx)
	t.Cleanup(func() { cad.Close(); as.Close(); cadSrv.Close(); asSrv.Close() })

	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`
data_dir: ./data
server: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: %s
  notes: pull
  pull: {schedule: "@every 1s"}
cad:
  adapter: rest
  rest:
    base_url: %s/api
    poll: {schedule: "@every 1s", path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}
mapping:
  incident_id: IncidentNumber
  fields: [{name: Status, from: Status}]
outbox: {retry: {initial: 20ms, max: 200ms}}
`, asSrv.URL, assistToken, cadSrv.URL)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sidecar log:\n%s", logs.String())
		}
	})
	// run starts a sidecar on the data folder; the returned stop waits for it to end.
	run := func() (stop func()) {
		t.Helper()
		cfg, err := config.Load(path, config.Options{Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s, err := sidecar.New(cfg, sidecar.Options{Logger: log, Registry: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stopRun := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		return func() {
			stopRun()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the sidecar did not stop within 30s")
			}
		}
	}

	id := cad.AddIncident()
	stop := run()
	const notes = 4 // 3 INFO notes and the CALL_COMPLETED note
	waitFor(t, 20*time.Second, "every note of the call pulled and written to the CAD", func() bool {
		return len(as.NotesFor(id)) == notes && len(cad.Notes(id)) == notes
	})
	stop()
	callID := as.Links()[id]
	before := as.Pulls(callID)
	if len(before.Served) != notes {
		t.Fatalf("pulls served %d distinct notes, the call has %d", len(before.Served), notes)
	}
	for noteID, n := range before.Served {
		if n != 1 {
			t.Errorf("before the restart, note %s was fetched %d times: the cursor did not advance", noteID, n)
		}
	}

	stop = run()
	waitFor(t, 20*time.Second, "two pulls after the restart", func() bool {
		return as.Pulls(callID).Requests >= before.Requests+2
	})
	stop()
	after := as.Pulls(callID)
	refetched := 0
	for noteID, n := range after.Served {
		refetched += n - before.Served[noteID]
	}
	if refetched != 0 {
		t.Fatalf("%d pulls after the restart re-fetched %d already written notes (served %v, before %v)",
			after.Requests-before.Requests, refetched, after.Served, before.Served)
	}
	if got := len(cad.Notes(id)); got != notes {
		t.Fatalf("CAD has %d notes, want %d", got, notes)
	}
}
