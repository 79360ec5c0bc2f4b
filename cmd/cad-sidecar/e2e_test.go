package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// sidecarBinary builds the real binary once per test run.
func sidecarBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP-OK: -short: builds and runs the real binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cad-sidecar-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cad-sidecar")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort returns a loopback address that was free a moment ago. Never give it to the
// binary as a listener (someone else may take the port before it binds: the rig uses port
// 0 and listen.json instead); it suits an address where nothing must listen.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is the real binary running with a config file.
type process struct {
	cmd  *exec.Cmd
	logs *os.File
	done chan struct{}
}

func startSidecar(t *testing.T, bin, cfg, logPath string) *process {
	t.Helper()
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(); logs.Close() })
	return p
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// TestCrashWhileCADDown runs the real binary against the simulators, lets Assist's notes
// pile up in the outbox while the CAD answers 503, SIGKILLs the sidecar, restarts it, brings
// the CAD back, and checks that every note the sidecar acknowledged reached the CAD, in
// order per incident.
func TestCrashWhileCADDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: 7})
	as := sim.NewAssist(sim.AssistOptions{
		Token: rigToken, Seed: 7, NotesPerCall: 6, NoteEvery: 150 * time.Millisecond,
		PushRetryEvery: 100 * time.Millisecond,
	})
	r := newRig(t, cad, as)
	cad.Start(ctx)
	bin := r.bin

	const incidents = 4
	for range incidents {
		cad.AddIncident()
	}
	cad.SetDown(true) // the CAD answers 503 to polls and to notes…
	p := r.start(t)
	waitFor(t, 15*time.Second, "admin listener", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	cad.SetDown(false) // …up just long enough for the incidents to be polled and linked
	waitFor(t, 15*time.Second, "incidents linked", func() bool { return as.LinkCount() == incidents })
	cad.SetDown(true)

	// Notes are acknowledged by the sidecar (on disk) but cannot reach the CAD.
	waitFor(t, 15*time.Second, "notes acknowledged while the CAD is down", func() bool { return len(as.Acked()) >= 8 })
	if n := cad.NoteCount(); n != 0 {
		t.Fatalf("the CAD is down but has %d notes", n)
	}
	p.kill()
	ackedAtKill := len(as.Acked())

	p = r.start(t)
	admin := r.admin // the restarted process's admin listener
	waitFor(t, 15*time.Second, "restarted sidecar", func() bool { return httpOK("http://" + admin + "/healthz") })
	// The Docker HEALTHCHECK: alive, but not ready while the CAD cannot be polled.
	if out, err := exec.Command(bin, "healthcheck", "--addr", admin).CombinedOutput(); err != nil {
		t.Fatalf("healthcheck: %v\n%s", err, out)
	}
	// With admin.listen on port 0, --config finds the address in data_dir/listen.json.
	if out, err := exec.Command(bin, "healthcheck", "--config", r.cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("healthcheck --config (admin.listen port 0): %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "readiness to report the CAD down", func() bool {
		out, err := exec.Command(bin, "healthcheck", "--addr", admin, "--ready").CombinedOutput()
		return err != nil && strings.Contains(string(out), "cad_poll")
	})
	if n := as.Registrations(); n != 1 {
		t.Fatalf("the unchanged webhook was registered %d times across a restart", n)
	}
	time.Sleep(500 * time.Millisecond) // retries hit the 503 again after the restart
	cad.SetDown(false)

	totalNotes := incidents * (6 + 1) // INFO notes + CALL_COMPLETED per call
	waitFor(t, 60*time.Second, "every acknowledged note in the CAD", func() bool {
		return len(as.Acked()) == totalNotes && missing(cad, as) == 0
	})
	dups := 0
	for _, id := range cad.Incidents() {
		want := ackedTexts(as, id)
		got := cad.Notes(id)
		seen := map[string]bool{}
		var order []string
		for _, n := range got {
			if seen[n.Text] {
				dups++
				continue
			}
			seen[n.Text] = true
			order = append(order, n.Text)
		}
		if strings.Join(order, "\n") != strings.Join(want, "\n") {
			t.Errorf("incident %s: CAD notes (first occurrences)\n%s\nwant acknowledged order\n%s", id, strings.Join(order, "\n"), strings.Join(want, "\n"))
		}
	}
	t.Logf("acknowledged=%d (at kill: %d) delivered=%d duplicates=%d kills=1", len(as.Acked()), ackedAtKill, cad.NoteCount(), dups)
}

// ackedTexts is what the CAD should hold for an incident: the acknowledged notes in
// order, rendered by the test's note template.
func ackedTexts(as *sim.Assist, incidentID string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range as.Acked() {
		if a.IncidentID != incidentID {
			continue
		}
		txt := a.Note.CreatedAt + "|" + a.Note.Note
		if !seen[txt] {
			seen[txt] = true
			out = append(out, txt)
		}
	}
	return out
}

func missing(cad *sim.CAD, as *sim.Assist) int {
	n := 0
	for _, id := range cad.Incidents() {
		have := map[string]bool{}
		for _, note := range cad.Notes(id) {
			have[note.Text] = true
		}
		for _, txt := range ackedTexts(as, id) {
			if !have[txt] {
				n++
			}
		}
	}
	return n
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join("..", "..", "config.example.yaml")
	var out, errb strings.Builder
	if code := run([]string{"validate", "--config", good}, nil, &out, &errb); code != exitOK {
		t.Fatalf("validate config.example.yaml: exit %d\n%s%s", code, out.String(), errb.String())
	}
	bad := filepath.Join(dir, "config.yaml")
	src, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "  notes: push", "  notes: sometimes", 1)
	broken = strings.Replace(broken, "  timeout: 10s                         # per request to Assist", "  timeout: soon", 1)
	if err := os.WriteFile(bad, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code := run([]string{"validate", "--config", bad}, nil, &out, &errb)
	if code != exitProblems {
		t.Fatalf("exit %d, want %d", code, exitProblems)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The lines of the two keys in config.example.yaml (which grows as keys are added).
	lineOf := func(prefix string) int {
		for i, l := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("config.example.yaml has no line %q", prefix)
		return 0
	}
	want := []string{
		fmt.Sprintf(`assist.notes: must be one of push | pull | both, got "sometimes" (config.yaml:%d)`, lineOf("  notes: push")),
		fmt.Sprintf(`assist.timeout: expected a duration such as 500ms, 30s, 5m or 72h, got "soon" (config.yaml:%d)`, lineOf("  timeout: 10s                         # per request to Assist")),
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("validate printed\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// TestRunRefusesBadConfig: an invalid config refuses to start, names the key and line, and
// creates no data folder.
func TestRunRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: ./data\nassist: {base_url: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := run([]string{"run", "--config", cfg}, nil, &out, &errb)
	if code != exitProblems {
		t.Fatalf("exit %d, want %d", code, exitProblems)
	}
	if !strings.Contains(errb.String(), `assist.base_url: "nope" is not an absolute http(s) URL (config.yaml:2)`) {
		t.Fatalf("stderr does not name the key and line:\n%s", errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Fatalf("data folder created by a refused start: %v", err)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"version"}, nil, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "cad-sidecar ") {
		t.Fatalf("version: exit %d %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, nil, &out, &errb); code != exitProblems || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d %q", code, errb.String())
	}
}
