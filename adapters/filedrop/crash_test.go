package filedrop_test

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

// TestCrashBetweenEmitAndMove: the process stops after emit returned (the link queued,
// durable) and before the file was moved — the state a SIGKILL at that instant leaves on
// disk: the data file has the link and the file is still in inbound. The restart takes
// the file again and re-emits its records; the host's content hash sees them unchanged, so
// the incident is not linked twice, and a file that came while it was down is linked: no
// record lost, none duplicated.
func TestCrashBetweenEmitAndMove(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	as := sim.NewAssist(sim.AssistOptions{Token: "tok", Seed: 3, NotesPerCall: 1, NoteEvery: time.Hour})
	srv := httptest.NewServer(as)
	ctx, cancel := context.WithCancel(context.Background())
	as.Start(ctx)
	t.Cleanup(func() { cancel(); as.Close(); srv.Close() })
	cfgFile := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: %s, token: tok, notes: push, webhook: {register: false, auth_token: 0123456789abcdef0123456789abcdef}}
cad:
  adapter: filedrop
  filedrop: {inbound: in, pattern: "*.json", format: json, stable_for: 100ms, rescan: 200ms}
mapping:
  incident_id: id
  fields: [{name: Nature, from: nature}]
`, srv.URL)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	runSidecar := func() (stop func(), reg *prometheus.Registry) {
		cfg, err := config.Load(cfgFile, config.Options{Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		reg = prometheus.NewRegistry()
		s, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.DiscardHandler), Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the sidecar did not stop within 30s")
			}
		}, reg
	}
	stop, _ := runSidecar()
	write(t, filepath.Join(in, "a.json"), `{"id": "A", "nature": "FIRE"}`)
	waitFor(t, "incident A linked and its file processed", func() bool {
		_, ok := as.Links()["A"]
		return ok && exists(filepath.Join(in, "processed", "a.json"))
	})
	stop()
	// The crash: the move had not happened.
	if err := os.Rename(filepath.Join(in, "processed", "a.json"), filepath.Join(in, "a.json")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(in, "b.json"), `{"id": "B", "nature": "EMS"}`)
	reqs := as.LinkRequests()
	stop, reg := runSidecar()
	defer stop()
	waitFor(t, "both files processed after the restart", func() bool {
		return exists(filepath.Join(in, "processed", "a.json")) && exists(filepath.Join(in, "processed", "b.json"))
	})
	// Both files were taken in one batch, whose records the host mapped before emit
	// returned: A's is counted unchanged (not queued), B's queued.
	if n := recordsCounted(t, reg, "unchanged"); n != 1 {
		t.Fatalf("cad_sidecar_cad_records_total{result=unchanged} = %v after the restart, want 1 (A re-emitted, unchanged)", n)
	}
	waitFor(t, "incident B linked", func() bool { _, ok := as.Links()["B"]; return ok })
	if n := as.LinkRequests() - reqs; n != 1 {
		t.Fatalf("%d link requests after the restart, want 1 (B only: A's re-emitted record is unchanged)", n)
	}
}

func recordsCounted(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cad_sidecar_cad_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
