package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// demoConfig is a real config file, loaded through the same loader as `run`; the demo
// writes it next to its data so that it can be read and copied.
const demoConfig = `# written by cad-sidecar demo
data_dir: ./data
log: {level: info, format: text}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: {{ASSIST}}
  token: demo-assist-token
  notes: both                # push, and pull as a safety net: duplicates are dropped
  webhook: {register: true, events: "*", auth_token: demo-webhook-auth-token-0123456789}
  pull: {schedule: "@every 2s"}
cad:
  adapter: rest
  rest:
    base_url: {{CAD}}/api
    headers: {X-Api-Key: demo-cad-key}
    poll:
      schedule: "@every 1s"
      path: "/incidents?since={{.Cursor}}"
      items: data
      cursor_field: updated
    write_note:
      method: POST
      path: "/incidents/{{.IncidentID}}/notes"
      body: '{"text": {{json .Text}}, "critical": {{.Critical}}}'
mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  filter: 'Status != "CLOSED"'
  fields:
    - {name: NatureCode, description: Nature, from: Nature.Code}
    - {name: Address, description: Location, expr: 'Loc.Number + " " + Loc.Street + ", " + Loc.City'}
    - {name: Priority, description: Priority, from: Pri, lookup: {"1": High, "2": Medium}, default: Low}
  note:
    text: '[Assist{{if .Critical}} CRITICAL{{end}}] {{.Note}}'
    # The simulated Assist loses every 2nd call's CALL_COMPLETED note: after the grace the
    # call's summary (GET /call/{id}) is written instead. A real grace is minutes.
    summary: {enabled: true, grace: 3s}
outbox: {retry: {initial: 500ms, max: 10s}}
`

// demoSummary is the contract's last line of `demo --duration D`.
type demoSummary struct {
	IncidentsLinked int `json:"incidents_linked"`
	NotesDelivered  int `json:"notes_delivered"`
	DeadLetters     int `json:"dead_letters"`
}

// onDemoSims, when set (tests), is given the demo's simulators before they start.
var onDemoSims func(*sim.CAD, *sim.Assist)

// editDemoConfig, when set (tests), rewrites the demo's config file before it is loaded.
var editDemoConfig func(string) string

// cmdDemo runs the sidecar in-process against a simulated REST CAD and a simulated Assist.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	duration := fs.Duration("duration", 0, "stop after this long and print a JSON summary (0 = until Ctrl-C)")
	keep := fs.Bool("keep", false, "keep the demo's folder (config and outbox) instead of deleting it")
	adminToken := fs.String("admin-token", "", "protect the demo's admin API and dashboard with this token (admin.token, at least 16 characters), to try the dashboard's token form")
	var shadow shadowFlag
	fs.Var(&shadow, "shadow", "run in shadow mode (cad or all): nothing is written into the simulated CAD; the shadow report is printed at the end")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runDemo(ctx, demoRun{duration: *duration, keep: *keep, adminToken: *adminToken, shadow: shadow.mode}, log, stdout, stderr); err != nil {
		log.Error("demo failed", "err", err)
		return exitFailure
	}
	return exitOK
}

// demoRun is what the demo's flags ask for.
type demoRun struct {
	duration   time.Duration // 0 = until ctx ends
	keep       bool          // keep the demo's folder
	adminToken string        // admin.token ("" = none: the admin listener is on loopback)
	shadow     string        // "" | cad | all
}

// runDemo runs the demo; with o.shadow (cad | all) in shadow mode, printing the shadow
// report to report at the end.
func runDemo(ctx context.Context, o demoRun, log *slog.Logger, stdout io.Writer, report io.Writer) error {
	duration, keep, shadow := o.duration, o.keep, o.shadow
	dir, err := os.MkdirTemp("", "cad-sidecar-demo-")
	if err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	if keep {
		log.Info("demo folder (kept: --keep)", "dir", dir)
	} else {
		log.Info("demo folder (deleted at the end; --keep keeps it)", "dir", dir)
		defer os.RemoveAll(dir)
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	simCtx, stopSims := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSims()

	cad := sim.NewCAD(sim.CADOptions{
		Logger: log.With("component", "sim-cad"), Seed: 1, APIKey: "demo-cad-key",
		NewIncidentEvery: 3 * time.Second, ChangeEvery: 5 * time.Second,
	})
	as := sim.NewAssist(sim.AssistOptions{
		Logger: log.With("component", "sim-assist"), Token: "demo-assist-token", Seed: 1,
		NotesPerCall: 3, NoteEvery: time.Second, DropCompletedEvery: 2,
	})
	if onDemoSims != nil {
		onDemoSims(cad, as)
	}
	var wg sync.WaitGroup
	cadURL, err := serveSim(simCtx, &wg, cad)
	if err != nil {
		return err
	}
	assistURL, err := serveSim(simCtx, &wg, as)
	if err != nil {
		return err
	}
	defer func() { stopSims(); cad.Close(); as.Close(); wg.Wait() }()
	cad.Start(simCtx)
	as.Start(simCtx)
	cad.AddIncident()
	cad.AddIncident()

	path := filepath.Join(dir, "config.yaml")
	text := strings.NewReplacer("{{ASSIST}}", assistURL, "{{CAD}}", cadURL).Replace(demoConfig)
	if o.adminToken != "" {
		text = strings.Replace(text, `admin: {listen: "127.0.0.1:0"}`,
			fmt.Sprintf(`admin: {listen: "127.0.0.1:0", token: %q}`, o.adminToken), 1)
	}
	if editDemoConfig != nil {
		text = editDemoConfig(text)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write demo config: %w", err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		return fmt.Errorf("demo config %s: %w", path, err)
	}
	if shadow != "" {
		cfg.Shadow.Mode = shadow
	}
	// The sidecar's lines carry no component (as with run); its parts add their own.
	s, err := sidecar.New(cfg, sidecar.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		_ = s.Store().Close()
		return err
	}
	cfg.Server.PublicURL = "http://" + s.PublicAddr()
	log.Info("demo running: a simulated CAD creates incidents, the simulated Assist answers with notes",
		"cad", cadURL, "assist", assistURL, "dashboard", s.DashboardURL(), "metrics", s.DashboardURL()+"metrics", "config", path)

	var summary demoSummary
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	select {
	case err := <-runErr:
		return err
	case <-ctx.Done():
	}
	if st, err := s.Store().Stats(); err == nil {
		for _, n := range st.Dead {
			summary.DeadLetters += n
		}
	}
	if err := <-runErr; err != nil {
		return err
	}
	if cfg.Shadowing() {
		if rep, err := sidecar.ReadShadowReport(sidecar.ShadowFiles(sidecar.ShadowPath(cfg))...); err == nil {
			printShadowReport(report, rep, false)
		} else {
			log.Warn("shadow report", "err", err)
		}
	}
	if duration <= 0 {
		return nil
	}
	summary.IncidentsLinked = as.LinkCount()
	summary.NotesDelivered = cad.NoteCount()
	return json.NewEncoder(stdout).Encode(summary)
}

// serveSim serves h on a loopback port until ctx ends.
func serveSim(ctx context.Context, wg *sync.WaitGroup, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("simulator listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return "http://" + ln.Addr().String(), nil
}
