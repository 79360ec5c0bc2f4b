package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// hookLoad posts webhook notes to the sidecar's public listener from 3 goroutines until
// stopped, and keeps the texts of the notes answered 200 (acknowledged: on disk).
type hookLoad struct {
	mu    sync.Mutex
	acked []string
	stop  func()
}

func startHookLoad(t *testing.T, public string) *hookLoad {
	t.Helper()
	l := &hookLoad{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				text := fmt.Sprintf("backup-load-w%d-n%05d", w, i)
				created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(w*100000+i) * time.Second).Format(time.RFC3339)
				body := fmt.Sprintf(`{"callId":"call-%d","incidentId":"INC-%d","note":{"type":"INFO","note":%q,"critical":false,"createdAt":%q}}`, w, w, text, created)
				req, _ := http.NewRequest(http.MethodPost, "http://"+public+"/webhookhandler/cad", strings.NewReader(body))
				req.Header.Set("Authorization", "e2e-webhook-auth-token-0123456789")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					l.mu.Lock()
					l.acked = append(l.acked, text)
					l.mu.Unlock()
				}
			}
		}()
	}
	var once sync.Once
	l.stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(l.stop)
	return l
}

func (l *hookLoad) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

// pendingTexts opens a copy of the outbox file (so the file itself is not changed) and
// returns the set of its pending notes' payloads.
func pendingPayloads(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := outbox.Open(cp, outbox.Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.Pending(outbox.TopicNote, 0)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, m := range ms {
		all.Write(m.Payload)
		all.WriteByte('\n')
	}
	return all.String()
}

// `backup --to FILE` while the real binary runs and webhooks keep arriving: the backup
// goes through the admin API, is a sound outbox file (`outbox check`) and holds every note
// acknowledged before it began. A second backup to the same file is refused without
// --force, one into a folder that does not exist fails saying where. Restored into an
// emptied data_dir (file and marker), `outbox check` passes and the sidecar starts on it;
// `backup` of the stopped sidecar's file works offline.
func TestBackupOnlineUnderLoadAndRestore(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 21})
	cad.SetDown(true) // the notes stay in the outbox
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 21})
	r := newRig(t, cad, as)
	p := r.start(t)
	waitFor(t, 15*time.Second, "admin listener", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	load := startHookLoad(t, r.public)
	waitFor(t, 30*time.Second, "50 acknowledged webhooks", func() bool { return len(load.snapshot()) >= 50 })
	before := load.snapshot()

	dir := t.TempDir()
	backup := filepath.Join(dir, "sidecar-backup.db")
	code, out, errOut := cli("backup", "--to", backup, "--config", r.cfgPath)
	load.stop()
	if code != 0 || !strings.Contains(out, "through the running sidecar at http://"+r.admin) || !strings.Contains(out, "sound") {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("%d notes acknowledged before the backup, %d by the end of the load", len(before), len(load.snapshot()))
	rep, err := outbox.Check(backup)
	if err != nil || !rep.Sound() {
		t.Fatalf("outbox.Check(backup) = %+v, %v", rep, err)
	}
	payloads := pendingPayloads(t, backup)
	for _, text := range before {
		if !strings.Contains(payloads, text) {
			t.Fatalf("note %s, acknowledged before the backup began, is not in the backup", text)
		}
	}

	if code, _, errOut := cli("backup", "--to", backup, "--config", r.cfgPath); code != exitFailure || !strings.Contains(errOut, "already exists") {
		t.Fatalf("backup to an existing file: exit %d %q, want 1 with \"already exists\"", code, errOut)
	}
	if code, out, errOut := cli("backup", "--to", backup, "--force", "--config", r.cfgPath); code != 0 {
		t.Fatalf("backup --force: exit %d %s %s", code, out, errOut)
	}
	nowhere := filepath.Join(dir, "no-such-folder", "b.db")
	if code, _, errOut := cli("backup", "--to", nowhere, "--config", r.cfgPath); code != exitFailure || !strings.Contains(errOut, "cannot create the backup in "+filepath.Dir(nowhere)) {
		t.Fatalf("backup into a missing folder: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli("backup", "--config", r.cfgPath); code != exitProblems || !strings.Contains(errOut, "--to FILE is required") {
		t.Fatalf("backup without --to: exit %d %q", code, errOut)
	}

	// Restore into an emptied data_dir: stop, replace, check, start.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar did not stop within 30s of SIGTERM")
	}
	db := filepath.Join(r.dataDir, "sidecar.db")
	if err := os.RemoveAll(r.dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range [][2]string{{backup, db}, {outbox.MarkerPath(backup), outbox.MarkerPath(db)}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := cli("outbox", "check", "--config", r.cfgPath); code != 0 || !strings.Contains(out, "sound") {
		t.Fatalf("outbox check of the restored file: exit %d %s %s", code, out, errOut)
	}
	offline := filepath.Join(dir, "offline.db")
	if code, out, errOut := cli("backup", "--to", offline, "--config", r.cfgPath); code != 0 || !strings.Contains(out, "from the data file (the sidecar is not running)") {
		t.Fatalf("offline backup: exit %d %s %s", code, out, errOut)
	}
	r.start(t)
	waitFor(t, 15*time.Second, "the sidecar on the restored file", func() bool { return httpOK("http://" + r.admin + "/healthz") })
}
