package sidecar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const (
	assistToken = "test-assist-token"
	hookToken   = "test-webhook-auth-token-0123456789"
)

// env is a sidecar running in-process against the simulators (or a CAD server of the test's).
type env struct {
	s        *sidecar.Sidecar
	cfg      *config.Config
	cad      *sim.CAD
	as       *sim.Assist
	reg      *prometheus.Registry
	logs     *syncBuffer
	hookURL  string
	adminURL string
	// token is admin.token: e.api sends it when set.
	token string
}

type envOptions struct {
	notes    string // push (default) | pull | both
	cadURL   string // a CAD of the test's instead of the simulator
	mapping  string
	edit     func(*config.Config)
	cadDown  bool
	register bool
	// wrapAssist puts a test's handler in front of the simulated Assist.
	wrapAssist func(http.Handler) http.Handler
	// logHandler replaces the default log handler (text, debug) writing into env.logs.
	logHandler func(io.Writer) slog.Handler
	// noteEvery is the simulated Assist's time between a call's events (default 50ms).
	noteEvery time.Duration
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

const defaultMapping = `
mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  fields:
    - {name: Status, from: Status}
    - {name: Priority, from: Pri}
  note: {text: "{{.CreatedAt}}|{{.Note}}"}
`

func start(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	e.cad = sim.NewCAD(sim.CADOptions{Seed: 3})
	if o.noteEvery == 0 {
		o.noteEvery = 50 * time.Millisecond
	}
	e.as = sim.NewAssist(sim.AssistOptions{Token: assistToken, Seed: 3, NotesPerCall: 3, NoteEvery: o.noteEvery, PushRetryEvery: 50 * time.Millisecond})
	e.cad.SetDown(o.cadDown)
	cadSrv := httptest.NewServer(e.cad)
	var asHandler http.Handler = e.as
	if o.wrapAssist != nil {
		asHandler = o.wrapAssist(e.as)
	}
	asSrv := httptest.NewServer(asHandler)
	e.cad.Start(ctx)
	e.as.Start(ctx)
	cadURL := cadSrv.URL + "/api"
	if o.cadURL != "" {
		cadURL = o.cadURL
	}
	if o.notes == "" {
		o.notes = "push"
	}
	if o.mapping == "" {
		o.mapping = defaultMapping
	}
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: %s
  notes: %s
  webhook: {register: %v, auth_token: %s, max_body: 1KiB}
  pull: {schedule: "@every 1s"}
cad:
  adapter: rest
  rest:
    base_url: %s
    poll: {schedule: "@every 1s", path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}
outbox: {retry: {initial: 20ms, max: 200ms}}
%s`, asSrv.URL, assistToken, o.notes, o.register, hookToken, cadURL, o.mapping)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if o.edit != nil {
		o.edit(cfg)
	}
	var h slog.Handler = slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	if o.logHandler != nil {
		h = o.logHandler(e.logs)
	}
	log := slog.New(h)
	s, err := sidecar.New(cfg, sidecar.Options{Logger: log, Registry: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	cfg.Server.PublicURL = "http://" + s.PublicAddr()
	e.s, e.cfg, e.token = s, cfg, cfg.Admin.Token
	e.hookURL = "http://" + s.PublicAddr() + cfg.Assist.Webhook.Path
	e.adminURL = "http://" + s.AdminAddr()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of its context's cancellation")
		}
		e.cad.Close()
		e.as.Close()
		cadSrv.Close()
		asSrv.Close()
		if t.Failed() {
			t.Logf("sidecar log:\n%s", e.logs.String())
		}
	})
	return e
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of a counter or gauge with the given labels (0 if absent).
func (e *env) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func (e *env) stats(t *testing.T) outbox.Stats {
	t.Helper()
	st, err := e.s.Store().Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func post(t *testing.T, url, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func noteBody(incident, text string) string {
	return fmt.Sprintf(`{"callId":"call-1","incidentId":%q,"note":{"type":"INFO","note":%q,"critical":true,"createdAt":"2026-11-25T10:00:00Z"}}`, incident, text)
}
