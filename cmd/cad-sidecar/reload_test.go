package main

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestSIGHUPReloadsNoteTemplate: the real binary writes notes with the config's template;
// after the file's note template is changed and the process gets SIGHUP, new notes use the
// new one. A broken template then keeps the running one (notes go on with it) and the log
// says why at ERROR with the key and the line. POST /api/v1/reload does the same as SIGHUP.
func TestSIGHUPReloadsNoteTemplate(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{DedupByKey: true})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, NotesPerCall: 100000, NoteEvery: 50 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond})
	r := newRig(t, cad, as)
	id := cad.AddIncident()
	p := r.start(t)

	const oldTmpl = `note: {text: "{{.CreatedAt}}|{{.Note}}"}`
	cfg, err := os.ReadFile(r.cfgPath)
	if err != nil || !strings.Contains(string(cfg), oldTmpl) {
		t.Fatalf("rig config lacks %s: %v", oldTmpl, err)
	}
	writeTemplate := func(tmpl string) {
		t.Helper()
		if err := os.WriteFile(r.cfgPath, []byte(strings.Replace(string(cfg), oldTmpl, tmpl, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// notesWith counts the incident's notes in the CAD whose text starts with prefix.
	notesWith := func(prefix string) int {
		c := 0
		for _, n := range cad.Notes(id) {
			if strings.HasPrefix(n.Text, prefix) {
				c++
			}
		}
		return c
	}
	waitFor(t, 30*time.Second, "a note in the CAD with the config's template", func() bool {
		ns := cad.Notes(id)
		return len(ns) > 0 && strings.Contains(ns[0].Text, "|")
	})

	writeTemplate(`note: {text: "v2:{{.Note}}"}`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a note with the reloaded template", func() bool { return notesWith("v2:") > 0 })
	if log := readLog(t, r); !strings.Contains(log, `msg="mapping reloaded"`) {
		t.Errorf("no INFO line for the reload")
	}

	writeTemplate(`note: {text: "v3:{{.Note"}`) // does not parse
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var refused string
	waitFor(t, 30*time.Second, "the broken template refused in the log", func() bool {
		for _, l := range strings.Split(readLog(t, r), "\n") {
			if strings.Contains(l, `level=ERROR msg="mapping reload refused; the running mapping is kept"`) {
				refused = l
				return true
			}
		}
		return false
	})
	if !strings.Contains(refused, "key=mapping.note.text") || !strings.Contains(refused, "config.yaml:") {
		t.Errorf("refusal line lacks the key or the line: %s", refused)
	}
	before := notesWith("v2:")
	waitFor(t, 30*time.Second, "more notes with the running template after the refusal", func() bool { return notesWith("v2:") > before+2 })
	if n := notesWith("v3:"); n != 0 {
		t.Fatalf("%d notes with the refused template", n)
	}

	// The admin API reloads the same way (and says why it refuses).
	resp, err := http.Post("http://"+r.admin+"/api/v1/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /api/v1/reload with the broken template: %s, want 400", resp.Status)
	}
	writeTemplate(`note: {text: "v4:{{.Note}}"}`)
	resp, err = http.Post("http://"+r.admin+"/api/v1/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/reload: %s, want 200", resp.Status)
	}
	waitFor(t, 30*time.Second, "a note with the template reloaded by the admin API", func() bool { return notesWith("v4:") > 0 })
}

func readLog(t *testing.T, r *rig) string {
	t.Helper()
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
