package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// rigToken is the Assist API token of the simulated Assist in the binary's tests.
const rigToken = "e2e-assist-token"

// rig is the real binary's test bench: the simulators served on loopback, and a config
// file pointing the binary at them (notes by push; note text "createdAt|note" so the CAD's
// notes can be matched to what Assist acknowledged).
//
// The binary listens on port 0 and reports its bound addresses in data_dir/listen.json:
// no port is guessed, so none can be taken by someone else between the guess and the bind.
// Assist reaches the webhook through a proxy of the rig's (its listener is held by the
// test from start to end), so public_url stays the same across restarts.
type rig struct {
	bin, cfgPath, logPath, dataDir string
	// admin and public are the admin and public (server.listen) listeners, host:port, of
	// the process started last (set by start, from its listen.json).
	admin, public string
	// target is public for the proxy's goroutines (nil while no process listens).
	target atomic.Pointer[string]
}

// newRig serves cad and as (built with Token: rigToken) until the test ends and writes the
// config. On failure the end of the sidecar's log is printed.
func newRig(t *testing.T, cad *sim.CAD, as *sim.Assist) *rig {
	t.Helper()
	r := &rig{bin: sidecarBinary(t)}
	ctx, cancel := context.WithCancel(context.Background())
	cadSrv := httptest.NewServer(cad)
	asSrv := httptest.NewServer(as)
	as.Start(ctx)
	t.Cleanup(func() { cancel(); as.Close(); cad.Close(); asSrv.Close(); cadSrv.Close() })

	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			if p := r.target.Load(); p != nil {
				pr.SetURL(&url.URL{Scheme: "http", Host: *p})
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "rig proxy: the sidecar is not listening: "+err.Error(), http.StatusBadGateway)
		},
	})
	t.Cleanup(proxy.Close)

	dir := t.TempDir()
	r.cfgPath = filepath.Join(dir, "config.yaml")
	r.logPath = filepath.Join(dir, "sidecar.log")
	r.dataDir = filepath.Join(dir, "data")
	cfg := fmt.Sprintf(`
data_dir: ./data
log: {level: debug, format: text}
server: {listen: "127.0.0.1:0", public_url: %q}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: %s
  webhook: {auth_token: e2e-webhook-auth-token-0123456789}
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
`, proxy.URL, asSrv.URL, rigToken, cadSrv.URL)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(r.logPath)
			t.Logf("sidecar log (last 8 KiB):\n%s", b[max(0, len(b)-8192):])
		}
	})
	return r
}

// start runs the binary with the rig's config and waits (bounded) until it has bound its
// listeners, as data_dir/listen.json reports them; r.admin and the proxy's target are then
// the new process's.
func (r *rig) start(t *testing.T) *process {
	t.Helper()
	// A SIGKILLed process leaves its listen.json behind: never read a dead process's ports.
	if err := os.Remove(sidecar.ListenFilePath(r.dataDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	r.target.Store(nil)
	p := startSidecar(t, r.bin, r.cfgPath, r.logPath)
	lf := waitListenFile(t, p, r.dataDir)
	r.admin, r.public = lf.Admin, lf.Public
	r.target.Store(&lf.Public)
	return p
}

// waitListenFile waits until the process p has written data_dir/listen.json, for 30s at
// most, and fails at once if p exits first.
func waitListenFile(t *testing.T, p *process, dataDir string) sidecar.ListenFile {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		lf, err := sidecar.ReadListenFile(dataDir)
		if err == nil && lf.Admin != "" {
			return lf
		}
		select {
		case <-p.done:
			t.Fatalf("the sidecar exited before writing %s (last read: %v)", sidecar.ListenFileName, err)
		case <-deadline:
			t.Fatalf("timed out after 30s waiting for the sidecar to write %s: %v", sidecar.ListenFilePath(dataDir), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestMain removes the binary built for the tests and stops the database servers
// (internal/dbtest) the tests started.
func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
