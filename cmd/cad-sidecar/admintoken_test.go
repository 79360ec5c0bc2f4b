package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// The real binary refuses to start (exit 1) with an admin.listen reachable from the
// network and no admin.token, naming both keys; validate reports it (exit 2). The token
// is never printed.
func TestRunRefusesOpenAdminWithoutToken(t *testing.T) {
	r := newRig(t, sim.NewCAD(sim.CADOptions{Seed: 1}), sim.NewAssist(sim.AssistOptions{Token: rigToken}))
	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	open := strings.Replace(string(b), `admin: {listen: "127.0.0.1:0"}`, `admin: {listen: "0.0.0.0:0"}`, 1)
	if open == string(b) {
		t.Fatal("the rig's config has no admin line to replace")
	}
	if err := os.WriteFile(r.cfgPath, []byte(open), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "run", "--config", r.cfgPath)
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("run with an open admin.listen and no token did not exit within 30s:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(string(out), "admin.listen") ||
		!strings.Contains(string(out), "admin.token") || !strings.Contains(string(out), "cannot start") {
		t.Fatalf("run: exit %d\n%s\nwant exit 1 naming admin.listen and admin.token", code, out)
	}
	if _, err := os.Stat(r.dataDir + "/sidecar.db"); err == nil {
		t.Errorf("the refused start created the data file")
	}
	code, stdout, _ := cli("validate", "--config", r.cfgPath)
	if code != exitProblems || !strings.Contains(stdout, "admin.token") {
		t.Errorf("validate: exit %d %s, want 2 naming admin.token", code, stdout)
	}
	// With a token (here from the environment) it starts.
	const token = "cli-admin-token-0123456789"
	t.Setenv("CAD_SIDECAR_ADMIN__TOKEN", token)
	p := r.start(t)
	waitFor(t, 15*time.Second, "admin listener", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	p.kill()
	logs, _ := os.ReadFile(r.logPath)
	if strings.Contains(string(logs), token) {
		t.Errorf("the log shows the admin token")
	}
}
