package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The real binary with `run --shadow` against the simulators: nothing is written into the
// CAD (its own record), links and notes flow as usual into the shadow file, the log says
// SHADOW MODE, SIGTERM stops it cleanly, and `shadow report` (from the config's
// shadow.file) summarises the run in text and JSON.
func TestShadowRunBinary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: 11})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 11, NotesPerCall: 3, NoteEvery: 50 * time.Millisecond, PushRetryEvery: 50 * time.Millisecond})
	var open []string
	for range 5 {
		open = append(open, cad.AddIncident())
	}
	closed := cad.AddIncident()
	for i := 0; ; i++ {
		if inc, _ := cad.Incident(closed); inc.Status == "CLOSED" {
			break
		}
		if i == 100 {
			t.Fatal("incident not closed after 100 updates")
		}
		cad.UpdateIncident(closed)
	}
	cad.AddIncidentWithoutNature()
	r := newRig(t, cad, as)
	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  fields: [{name: Nature, from: Nature.Code}]\n  note: {text: \"{{.CreatedAt}}|{{.Note}}\"}\n",
		"  filter: 'Status != \"CLOSED\"'\n  fields: [{name: Nature, from: Nature.Code, required: true}]\n  note: {text: \"{{.Note}}\", max_length: 40}\n", 1)
	if cfg == string(b) {
		t.Fatal("the rig's mapping changed: update this test")
	}
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cad.Start(ctx)

	p := startShadowBinary(t, r, "--shadow")
	lf := waitListenFile(t, p, r.dataDir)
	r.admin = lf.Admin
	r.target.Store(&lf.Public)
	shadowFile := filepath.Join(r.dataDir, "shadow.jsonl")
	waitFor(t, 60*time.Second, "every call's notes in the shadow file", func() bool {
		rep, err := sidecar.ReadShadowReport(shadowFile)
		return err == nil && as.LinkCount() >= len(open) && as.Pending() == 0 && rep.Notes >= 4*len(open)
	})
	if n := cad.NoteCount(); n != 0 {
		t.Fatalf("the shadow run wrote %d notes into the CAD", n)
	}
	if !httpOK("http://" + r.admin + "/readyz") {
		t.Fatal("/readyz of the shadow run is not ready")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the shadow run did not stop within 30s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	logs, _ := os.ReadFile(r.logPath)
	if !strings.Contains(string(logs), `level=WARN msg="SHADOW MODE: nothing is written into the CAD`) {
		t.Fatal("no SHADOW MODE warning in the log")
	}
	if _, err := os.Stat(filepath.Join(r.dataDir, sidecar.ShadowStoreFile)); err != nil {
		t.Fatalf("the shadow run's own data file: %v", err)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"shadow", "report", "--config", r.cfgPath}, nil, &out, &errb); code != exitOK {
		t.Fatalf("shadow report: exit %d: %s", code, errb.String())
	}
	t.Logf("shadow report:\n%s", out.String())
	for _, want := range []string{
		"\nincidents seen            7\n",
		"\nlinked (sent to Assist)   5     (5 link requests)\n",
		"\nfiltered out              1     (1 record)\n",
		"\n    1 record, 1 incident: filter Status != \"CLOSED\" is false\n",
		"\nmapping errors            1     (1 record)\n",
		"\n    1 record, 1 incident: fields[0] (Nature)\n",
		"\nnotes                     20    (",
		"\nnotes per incident        4–4   (median 4, over 5 incidents)\n",
		"\nsplit notes               ",
		"\nlongest write             ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	out.Reset()
	if code := run([]string{"shadow", "report", "--json", shadowFile}, nil, &out, &errb); code != exitOK {
		t.Fatalf("shadow report --json: exit %d: %s", code, errb.String())
	}
	var rep sidecar.ShadowReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Linked != len(open) || rep.Notes != 4*len(open) || rep.Incidents != 7 || len(rep.PerIncident) != 7 {
		t.Fatalf("--json: %+v", rep)
	}
}

// startShadowBinary runs the binary with the rig's config and extra arguments.
func startShadowBinary(t *testing.T, r *rig, args ...string) *process {
	t.Helper()
	logs, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.bin, append([]string{"run", "--config", r.cfgPath}, args...)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(); logs.Close() })
	return p
}

// run --shadow: a bad value is a usage error; an unwritable shadow.file stops the start
// with a message naming the key and the file; a bad line of a report names its line.
func TestShadowCommandErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	yaml := `
data_dir: ./data
log: {format: text}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: "http://127.0.0.1:1", token: t, webhook: {auth_token: 0123456789abcdef0123}}
cad: {adapter: rest, rest: {base_url: "http://127.0.0.1:1/api", poll: {path: "/incidents"}}}
mapping: {incident_id: IncidentNumber}
shadow: {file: ` + filepath.Join(blocker, "shadow.jsonl") + `}
`
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "--config", cfgPath}, nil, &out, &errb); code != exitOK || strings.Contains(out.String(), "SHADOW") {
		t.Fatalf("validate, shadow mode off: exit %d: %s%s", code, out.String(), errb.String())
	}
	shadowCfg := filepath.Join(dir, "shadow.yaml")
	if err := os.WriteFile(shadowCfg, []byte(strings.Replace(yaml, "shadow: {", "shadow: {mode: all, ", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"validate", "--config", shadowCfg}, nil, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), ": ok (adapter rest, notes push, SHADOW MODE all: nothing is written into the CAD)\n") {
		t.Fatalf("validate, shadow mode all: exit %d: %s%s", code, out.String(), errb.String())
	}
	if code := run([]string{"run", "--config", cfgPath, "--shadow=some"}, nil, &out, &errb); code != exitProblems ||
		!strings.Contains(errb.String(), `must be cad, all or off (--shadow alone is cad), got "some"`) {
		t.Fatalf("--shadow=some: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"run", "--config", cfgPath, "--shadow=all"}, nil, &out, &errb); code != exitFailure ||
		!strings.Contains(errb.String(), "shadow.file "+filepath.Join(blocker, "shadow.jsonl")+" is not writable") {
		t.Fatalf("unwritable shadow.file: exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", sidecar.ShadowStoreFile)); err == nil {
		t.Fatal("a data file was made by a start that was refused")
	}

	report := filepath.Join(dir, "shadow.jsonl")
	lines := `{"time":"2026-12-01T10:00:00Z","mode":"all","kind":"link","to":"assist","incident_id":"A"}
{"time":"2026-12-01T10:00:01Z","mode":"all","kind":"li
{"time":"2026-12-01T10:00:02Z","mode":"all","kind":"link","to":"assist","incident_id":"B"}
`
	if err := os.WriteFile(report, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"shadow", "report", report}, nil, &out, &errb); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"\nwould be linked           2     (2 link requests)\n", "1 bad line skipped (the rest is counted):\n  " + report + ":2: not a JSON object"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"shadow", "report", filepath.Join(dir, "missing.jsonl")}, nil, &out, &errb); code != exitFailure {
		t.Fatalf("a missing file: exit %d", code)
	}
	if code := run([]string{"shadow"}, nil, &out, &errb); code != exitProblems {
		t.Fatalf("shadow without report: exit %d", code)
	}
}

// `demo --shadow`: the simulated CAD gets no note (the summary's notes_delivered is the
// CAD's own count), the log has the SHADOW MODE line, and the shadow report follows on
// stderr, stdout keeping its one JSON line.
func TestDemoShadow(t *testing.T) {
	var cad *sim.CAD
	onDemoSims = func(c *sim.CAD, _ *sim.Assist) { cad = c }
	t.Cleanup(func() { onDemoSims = nil })
	var stdout, stderr lockedBuffer
	if code := cmdDemo(context.Background(), []string{"--duration", "6s", "--shadow"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("demo: exit %d\n%s", code, stderr.String())
	}
	var summary demoSummary
	if err := json.Unmarshal(bytes.TrimSpace([]byte(stdout.String())), &summary); err != nil {
		t.Fatalf("demo summary %q: %v", stdout.String(), err)
	}
	if summary.IncidentsLinked == 0 || summary.NotesDelivered != 0 || cad.NoteCount() != 0 {
		t.Fatalf("demo --shadow: %+v, %d notes in the CAD", summary, cad.NoteCount())
	}
	logs := stderr.String()
	for _, want := range []string{`level=WARN msg="SHADOW MODE: nothing is written into the CAD`, "\nshadow report of ", "\nlinked (sent to Assist)   "} {
		if !strings.Contains(logs, want) {
			t.Fatalf("demo --shadow output lacks %q:\n%s", want, logs)
		}
	}
}
