package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// dataRig is a rig (simulators, config) whose data file holds 300 waiting notes
// (5 incidents), written through the outbox package; the sidecar is not started.
func dataRig(t *testing.T) (*rig, string) {
	t.Helper()
	r := newRig(t, sim.NewCAD(sim.CADOptions{}), sim.NewAssist(sim.AssistOptions{Token: rigToken}))
	db := filepath.Join(filepath.Dir(r.cfgPath), "data", "sidecar.db")
	s, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		p := fmt.Sprintf("note-%04d|%s", i, strings.Repeat("x", 300))
		if _, err := s.Enqueue(context.Background(), outbox.TopicNote, "INC-"+strconv.Itoa(i%5), []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return r, db
}

// runBin runs the real binary to its end (at most 30 s) and returns its exit code and
// output (stdout and stderr).
func runBin(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sidecarBinary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cad-sidecar %s did not end within 30 s (it started with the data file?); output:\n%s", strings.Join(args, " "), out.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// noPanic fails the test when out shows a Go panic.
func noPanic(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Fatalf("the binary panicked:\n%s", out)
	}
}

// smashPage overwrites with random bytes the page of the file holding the payload of note
// i; it returns how many notes had their record on that page.
func smashPage(t *testing.T, path string, i int) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Index(data, fmt.Appendf(nil, "note-%04d|", i))
	if off < 0 {
		t.Fatalf("note %d not in the file", i)
	}
	const ps = 4096
	if got := int(data[24]) | int(data[25])<<8 | int(data[26])<<16; got != ps {
		t.Fatalf("page size %d", got)
	}
	start := off / ps * ps
	lost := bytes.Count(data[start:start+ps], []byte("note-"))
	rng := rand.New(rand.NewPCG(7, 8))
	for j := start; j < start+ps; j++ {
		data[j] = byte(rng.UintN(256))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return lost
}

func truncateTo(t *testing.T, path string, frac float64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(fi.Size())*frac)); err != nil {
		t.Fatal(err)
	}
}

var pendingRe = regexp.MustCompile(`topic note: (\d+) pending`)

func notesPending(t *testing.T, out string) int {
	t.Helper()
	m := pendingRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no note count in:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestRunRefusesEmptyDataFile: sidecar.db truncated to 0 bytes (300 notes waiting) is
// refused: exit 1, a message naming the file and saying the notes would be lost; nothing
// is written over it, and restoring the file brings the 300 notes back.
func TestRunRefusesEmptyDataFile(t *testing.T) {
	r, db := dataRig(t)
	saved, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	code, out := runBin(t, "run", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, w := range []string{db, "is empty (0 bytes)", "would be lost", "outbox salvage", outbox.MarkerPath(db)} {
		if !strings.Contains(out, w) {
			t.Errorf("the message does not say %q:\n%s", w, out)
		}
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused start changed the file: %v %v", fi, err)
	}
	if err := os.WriteFile(db, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runBin(t, "outbox", "check", "--config", r.cfgPath)
	if code != exitOK || notesPending(t, out) != 300 {
		t.Fatalf("after restoring the file: exit %d\n%s", code, out)
	}
}

// TestRunRefusesDamagedDataFile: a data file truncated to half, or with a page of garbage,
// is refused with exit 1 (not a panic's 2) and one message naming the file, saying it is
// damaged and naming the commands.
func TestRunRefusesDamagedDataFile(t *testing.T) {
	for name, damage := range map[string]func(*testing.T, string){
		"truncated to half": func(t *testing.T, p string) { truncateTo(t, p, 0.5) },
		"garbage page":      func(t *testing.T, p string) { smashPage(t, p, 150) },
	} {
		t.Run(name, func(t *testing.T) {
			r, db := dataRig(t)
			damage(t, db)
			code, out := runBin(t, "run", "--config", r.cfgPath)
			noPanic(t, out)
			if code != exitFailure {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			for _, w := range []string{db, "damaged", "outbox check", "outbox salvage"} {
				if !strings.Contains(out, w) {
					t.Errorf("the message does not say %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "cannot start"); n != 1 {
				t.Errorf("%d 'cannot start' lines, want one:\n%s", n, out)
			}
		})
	}
}

// TestOutboxCheckAndSalvageCommands: `outbox check` says a damaged file is damaged (exit 1)
// and a sound one sound (exit 0, counts); `outbox salvage` copies the readable notes (all
// but those on the damaged page), never changes the source, and its output, put in place
// as the README says, is sound and is what the sidecar opens.
func TestOutboxCheckAndSalvageCommands(t *testing.T) {
	r, db := dataRig(t)
	code, out := runBin(t, "outbox", "check", "--config", r.cfgPath)
	if code != exitOK || !strings.Contains(out, "sound") || notesPending(t, out) != 300 {
		t.Fatalf("check of a sound file: exit %d\n%s", code, out)
	}
	lost := smashPage(t, db, 150)
	if lost == 0 {
		t.Fatal("no note on the damaged page")
	}
	before, _ := os.ReadFile(db)
	code, out = runBin(t, "outbox", "check", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure || !strings.Contains(out, "DAMAGED") || !strings.Contains(out, "outbox salvage --to") {
		t.Fatalf("check of a damaged file: exit %d\n%s", code, out)
	}
	to := filepath.Join(filepath.Dir(db), "salvaged.db")
	code, out = runBin(t, "outbox", "salvage", "--to", to, "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitOK || notesPending(t, out) != 300-lost || !strings.Contains(out, "not read") {
		t.Fatalf("salvage: exit %d, want %d notes\n%s", code, 300-lost, out)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
		t.Fatal("salvage changed the source")
	}
	// Put in place as the README says.
	if err := os.Rename(db, db+".damaged"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to, db); err != nil {
		t.Fatal(err)
	}
	code, out = runBin(t, "outbox", "check", "--config", r.cfgPath)
	if code != exitOK || notesPending(t, out) != 300-lost {
		t.Fatalf("check of the salvaged file in place: exit %d\n%s", code, out)
	}
	s, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the salvaged file in place does not open: %v", err)
	}
	_ = s.Close()
}

// TestOutboxCommandsOnTruncatedFile: check, salvage and compact of a file truncated to half:
// clear answers, no panic.
func TestOutboxCommandsOnTruncatedFile(t *testing.T) {
	r, db := dataRig(t)
	truncateTo(t, db, 0.5)
	code, out := runBin(t, "outbox", "check", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure || !strings.Contains(out, "truncated") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	code, out = runBin(t, "outbox", "salvage", "--to", db+".salvaged", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitOK || !strings.Contains(out, "not read") {
		t.Fatalf("salvage: exit %d\n%s", code, out)
	}
	if n := notesPending(t, out); n >= 300 {
		t.Fatalf("salvage of a truncated file claims %d notes", n)
	}
	code, out = runBin(t, "outbox", "compact", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure || !strings.Contains(out, "damaged") || !strings.Contains(out, db) {
		t.Fatalf("compact: exit %d\n%s", code, out)
	}
	if m, _ := filepath.Glob(db + ".*compact*"); len(m) != 0 {
		t.Fatalf("a refused compact left files: %v", m)
	}
}

// TestOutboxCompactDamagedFile: compact of a file with a page of garbage refuses with a
// clear error and no panic, and leaves the file as it was.
func TestOutboxCompactDamagedFile(t *testing.T) {
	r, db := dataRig(t)
	smashPage(t, db, 150)
	before, _ := os.ReadFile(db)
	code, out := runBin(t, "outbox", "compact", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure || !strings.Contains(out, "damaged") || !strings.Contains(out, "outbox salvage") {
		t.Fatalf("compact: exit %d\n%s", code, out)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
		t.Fatal("compact changed the damaged file")
	}
}

// TestOutboxCommandsRefuseLockedFile: while the data file is held (a running sidecar),
// check and salvage refuse with exit 1 and say so.
func TestOutboxCommandsRefuseLockedFile(t *testing.T) {
	r, db := dataRig(t)
	s, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, args := range [][]string{
		{"outbox", "check", "--config", r.cfgPath},
		{"outbox", "salvage", "--to", db + ".new", "--config", r.cfgPath},
	} {
		code, out := runBin(t, args...)
		if code != exitFailure || !strings.Contains(out, "locked") {
			t.Fatalf("%s: exit %d\n%s", args[1], code, out)
		}
	}
	if _, err := os.Stat(db + ".new"); err == nil {
		t.Fatal("a refused salvage left its file")
	}
}

// TestDiskFull runs the real binary with its data folder on a 2 MiB tmpfs, fills the
// tmpfs, and checks that webhooks are answered 503 with Retry-After (not 500), /readyz
// shows the store check not ok ("disk full: ..."), and that both recover by themselves once
// space frees. Needs permission to mount (root); skipped otherwise (the outbox package's
// TestNoSpaceInjected always runs).
func TestDiskFull(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{})
	r := newRig(t, cad, sim.NewAssist(sim.AssistOptions{Token: rigToken}))
	data := mountSmallDataDir(t, r)
	p := r.start(t)
	t.Cleanup(p.kill) // before the umount (cleanups run last-in first-out)
	waitFor(t, 15*time.Second, "the sidecar to serve", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	hook := "http://" + r.public + "/webhookhandler/cad"
	send := func(i int) *http.Response {
		body := fmt.Sprintf(`{"callId":"call-1","incidentId":"INC-1","note":{"type":"INFO","note":"note %d %s","critical":false,"createdAt":"2026-11-25T10:00:%02dZ"}}`,
			i, strings.Repeat("x", 4000), i%60)
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(body))
		req.Header.Set("Authorization", "e2e-webhook-auth-token-0123456789")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send(0); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook before the disk is full: %d", resp.StatusCode)
	}
	filler := fillDisk(t, data)
	var refused *http.Response
	for i := 1; i < 300 && refused == nil; i++ {
		if resp := send(i); resp.StatusCode != http.StatusOK {
			refused = resp
		}
	}
	if refused == nil {
		t.Fatal("300 webhooks accepted on a full disk")
	}
	if refused.StatusCode != http.StatusServiceUnavailable || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("webhook on a full disk: %d, Retry-After %q; want 503 with Retry-After", refused.StatusCode, refused.Header.Get("Retry-After"))
	}
	store := func() (bool, string) {
		resp, err := http.Get("http://" + r.admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var rz struct {
			Checks map[string]struct {
				OK     bool   `json:"ok"`
				Detail string `json:"detail"`
			} `json:"checks"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&rz)
		c := rz.Checks["store"]
		return c.OK, c.Detail
	}
	if ok, detail := store(); ok || !strings.HasPrefix(detail, "disk full: ") {
		t.Fatalf("/readyz store check on a full disk: ok %v, detail %q", ok, detail)
	}
	if logs, _ := os.ReadFile(r.logPath); !strings.Contains(string(logs), "disk full") {
		t.Fatalf("no disk-full log line:\n%s", logs)
	}
	// Space frees: the store recovers by itself (no restart), webhooks are accepted again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the store check to recover", func() bool { ok, _ := store(); return ok })
	if resp := send(1000); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook after space freed: %d", resp.StatusCode)
	}
}

// TestOutboxSalvageOfAnEmptyFile: salvaging a file truncated to 0 bytes reads nothing, so
// it must not advise putting its empty result in place (that would drop every note): exit
// 1, a loud message, no "put it in place" advice.
func TestOutboxSalvageOfAnEmptyFile(t *testing.T) {
	r, db := dataRig(t)
	truncateTo(t, db, 0)
	code, out := runBin(t, "outbox", "salvage", "--to", db+".salvaged", "--config", r.cfgPath)
	noPanic(t, out)
	if code != exitFailure || !strings.Contains(out, "NOTHING could be read") || strings.Contains(out, "To put it in place") {
		t.Fatalf("salvage of an empty file: exit %d\n%s", code, out)
	}
}

// mountSmallDataDir mounts a 2 MiB tmpfs on r's data_dir (unmounted at the end of the
// test); the test is skipped where mounting is not allowed.
func mountSmallDataDir(t *testing.T, r *rig) string {
	t.Helper()
	data := filepath.Join(filepath.Dir(r.cfgPath), "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("SKIP-OK: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN; the injected-ENOSPC test still runs): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", data).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", data, err, out)
		}
	})
	return data
}

// fillDisk fills the file system of dir with a file, whose path it returns.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	_ = f.Close()
	return filler
}

// TestDiskFullShutdown: a big note's delivery outcome (a dead letter: the CAD answers 404)
// cannot be committed because the data disk is full and the file has no free run of pages
// left for it (webhooks are refused): the writer holds it, retried until space frees.
// SIGTERM then stops the sidecar within a bounded time (it does not wait for space), and
// the note is still pending afterwards, not dead-lettered (at-least-once: it is delivered
// again after the restart).
func TestDiskFullShutdown(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{}) // no incident: the note is answered 404
	release := cad.HoldNotes()
	defer release()
	r := newRig(t, cad, sim.NewAssist(sim.AssistOptions{Token: rigToken}))
	data := mountSmallDataDir(t, r)
	p := r.start(t)
	t.Cleanup(p.kill) // before the umount (cleanups run last-in first-out)
	waitFor(t, 15*time.Second, "the sidecar to serve", func() bool { return httpOK("http://" + r.admin + "/healthz") })

	send := func(i, size int) int {
		body := fmt.Sprintf(`{"callId":"call-1","incidentId":"INC-1","note":{"type":"INFO","note":"note-%d %s","critical":false,"createdAt":"2026-11-25T10:00:00Z"}}`,
			i, strings.Repeat("x", size))
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.public+"/webhookhandler/cad", strings.NewReader(body))
		req.Header.Set("Authorization", "e2e-webhook-auth-token-0123456789")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(0, 40000); code != http.StatusOK {
		t.Fatalf("webhook before the disk is full: %d", code)
	}
	waitFor(t, 15*time.Second, "note-0 to reach the CAD (held there)", func() bool { return cad.Held() == 1 })
	filler := fillDisk(t, data)
	// Use up the file's free pages: notes queued behind note-0 (same incident) until one is
	// refused, big ones, then small ones.
	for _, size := range []int{4000, 10} {
		refused := false
		for i := 1; i < 300 && !refused; i++ {
			refused = send(i, size) != http.StatusOK
		}
		if !refused {
			t.Fatalf("300 webhooks of %d bytes accepted on a full disk", size)
		}
	}
	release() // the CAD answers 404: note-0's dead letter (40 KB) cannot be written
	waitFor(t, 15*time.Second, "the sidecar to log note-0's permanent failure", func() bool {
		b, _ := os.ReadFile(r.logPath)
		return bytes.Contains(b, []byte(`msg="outbox delivery failed permanently; moved to dead letters" component=outbox topic=note`))
	})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar did not exit within 30s of SIGTERM while the disk is full and a note's outcome is held: shutdown waits for disk space")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s, err := outbox.Open(filepath.Join(data, "sidecar.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler), NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds, err := s.DeadLetters(outbox.TopicNote)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Pending(outbox.TopicNote, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 || len(ms) != 1 || !bytes.Contains(ms[0].Payload, []byte("note-0 ")) {
		t.Fatalf("after the shutdown: %d dead letters, head %v; want note-0 still pending (its outcome, held for lack of space, given up)", len(ds), ms)
	}
}
