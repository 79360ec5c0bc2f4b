// Command simserve runs the simulated CAD and Assist (internal/sim) on loopback for a
// sidecar started elsewhere — the container check in .ci/run — and waits until a note
// pushed by Assist as a webhook has been written into the CAD.
//
//	simserve -dir DIR [-timeout 2m]
//
// It writes DIR/config.yaml (the sidecar's config: the simulators' URLs, data_dir and the
// secrets left to CAD_SIDECAR_*_FILE), DIR/secrets/{assist_token,webhook_auth_token}
// (mode 0644 in a 0700 folder, as the README says), then waits. Assist pushes its webhooks
// to a proxy of simserve's own (public_url), which forwards them to the public address the
// sidecar reports in DIR/data/listen.json, so no port is guessed. Exit 0 when a webhook
// was answered 2xx and its note is in the CAD, 1 on timeout (with what was seen).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

const (
	assistToken  = "ci-assist-token"
	webhookToken = "ci-webhook-auth-token-0123456789"
	cadKey       = "ci-cad-key"
)

const configTemplate = `# written by simserve for the container check in .ci/run
log: {level: info, format: json}
server: {listen: "127.0.0.1:0", public_url: %q}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  notes: push
  webhook: {register: true, events: "*"}
cad:
  adapter: rest
  rest:
    base_url: %s/api
    headers: {X-Api-Key: %s}
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
  fields:
    - {name: NatureCode, description: Nature, from: Nature.Code}
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simserve:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "folder for config.yaml, secrets/ and data/ (required)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for a note delivered through a webhook")
	linger := flag.Duration("linger", 0, "after the note, keep serving this long (so the sidecar's readiness can be checked against a live CAD)")
	flag.Parse()
	if *dir == "" {
		return errors.New("-dir is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	cad := sim.NewCAD(sim.CADOptions{Logger: log, Seed: 1, APIKey: cadKey})
	as := sim.NewAssist(sim.AssistOptions{Logger: log, Token: assistToken, Seed: 1, NotesPerCall: 2, NoteEvery: 300 * time.Millisecond})
	defer as.Close()
	defer cad.Close()
	cadURL, err := serve(ctx, cad)
	if err != nil {
		return err
	}
	assistURL, err := serve(ctx, as)
	if err != nil {
		return err
	}
	listenJSON := filepath.Join(*dir, "data", "listen.json")
	proxyURL, err := serve(ctx, webhookProxy(listenJSON))
	if err != nil {
		return err
	}
	if err := writeFiles(*dir, fmt.Sprintf(configTemplate, proxyURL, assistURL, cadURL, cadKey)); err != nil {
		return err
	}
	cad.AddIncident()
	fmt.Printf("simserve: CAD %s, Assist %s, webhook proxy %s -> %s\n", cadURL, assistURL, proxyURL, listenJSON)

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		push := as.PushStats()
		if push.Delivered > 0 && cad.NoteCount() > 0 {
			fmt.Printf("simserve: ok: %d incident(s) linked, %d webhook(s) answered 2xx, %d note(s) in the CAD\n", as.LinkCount(), push.Delivered, cad.NoteCount())
			time.Sleep(*linger)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no note delivered through a webhook within %s: %d link(s), %d registration(s), pushes %+v, %d note(s) in the CAD", *timeout, as.LinkCount(), as.Registrations(), push, cad.NoteCount())
		case <-tick.C:
		}
	}
}

// writeFiles writes the config (0644: the container's user reads it) and the secrets
// (0644 files in a 0700 folder) under dir, and creates dir/data.
func writeFiles(dir, cfg string) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		return err
	}
	for name, v := range map[string]string{"assist_token": assistToken, "webhook_auth_token": webhookToken} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	// Written last, and atomically: its presence says the rest is in place.
	tmp := filepath.Join(dir, "config.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(cfg), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "config.yaml"))
}

// webhookProxy forwards every request to the "public" address in listen.json, read at each
// request (the sidecar writes it once it has bound its port).
func webhookProxy(listenJSON string) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			var addrs struct {
				Public string `json:"public"`
			}
			if b, err := os.ReadFile(listenJSON); err == nil {
				_ = json.Unmarshal(b, &addrs)
			}
			if addrs.Public == "" {
				addrs.Public = "127.0.0.1:1" // not listening yet: the push fails and Assist retries
			}
			r.SetURL(&url.URL{Scheme: "http", Host: addrs.Public})
			r.Out.Host = r.In.Host
		},
	}
}

// serve serves h on a loopback port until ctx ends.
func serve(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}
