package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// rigToken is the Assist API token of the simulated Assist in the binary's tests.
const rigToken = "e2e-assist-token"

// rig is the real binary's test bench: the simulators served on loopback, and a config
// file pointing the binary at them (notes by push; note text "createdAt|note" so the CAD's
// notes can be matched to what Assist acknowledged).
type rig struct {
	bin, cfgPath, logPath, admin string
	public                       string // server.listen (host:port)
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

	dir := t.TempDir()
	public := freePort(t)
	r.public = public
	r.admin = freePort(t)
	r.cfgPath = filepath.Join(dir, "config.yaml")
	r.logPath = filepath.Join(dir, "sidecar.log")
	cfg := fmt.Sprintf(`
data_dir: ./data
log: {level: debug, format: text}
server: {listen: %q, public_url: "http://%s"}
admin: {listen: %q}
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
`, public, public, r.admin, asSrv.URL, rigToken, cadSrv.URL)
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

// start runs the binary with the rig's config.
func (r *rig) start(t *testing.T) *process {
	t.Helper()
	return startSidecar(t, r.bin, r.cfgPath, r.logPath)
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
