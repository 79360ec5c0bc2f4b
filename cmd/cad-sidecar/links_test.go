package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// links, outbox list and trace: online through the running binary's admin API (which has
// a token: the commands send it from the config), then offline on the data file the
// stopped sidecar left. The CAD refuses every note (503), so notes wait in the outbox.
func TestLinksOutboxTraceCommands(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 21})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 21, NotesPerCall: 1, NoteEvery: 200 * time.Millisecond, PushRetryEvery: 100 * time.Millisecond})
	cad.SetRefuseNotes("|") // every note's text is "createdAt|note"
	r := newRig(t, cad, as)
	const token = "cli-admin-token-0123456789"
	t.Setenv("CAD_SIDECAR_ADMIN__TOKEN", token)
	id := cad.AddIncident()
	p := r.start(t)
	waitFor(t, 30*time.Second, "the incident linked and a note refused, in its trace", func() bool {
		code, out, _ := cli("trace", id, "--json", "--config", r.cfgPath)
		return code == 0 && strings.Contains(out, `"linked"`) && strings.Contains(out, `"note_write"`)
	})

	check := func(where string) {
		t.Helper()
		code, out, errOut := cli("links", "--config", r.cfgPath)
		if code != 0 || !strings.Contains(errOut, where) || !strings.Contains(out, id) || !strings.Contains(out, "queued") {
			t.Errorf("links (%s): exit %d\n%s\n%s", where, code, out, errOut)
		}
		code, out, _ = cli("links", "--json", "--incident", id, "--config", r.cfgPath)
		var page sidecar.LinkPage
		if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Links) != 1 || page.Links[0].CallID == "" || page.Links[0].QueuedNotes == 0 {
			t.Errorf("links --json --incident (%s): exit %d %s", where, code, out)
		}
		code, out, errOut = cli("outbox", "list", "--config", r.cfgPath)
		if code != 0 || !strings.Contains(errOut, where) || !strings.Contains(out, id) || !strings.Contains(out, "note-") ||
			strings.Contains(out, "|") {
			t.Errorf("outbox list (%s): exit %d\n%s\n%s", where, code, out, errOut)
		}
		code, out, _ = cli("outbox", "list", "--content", "--topic", "note", "--config", r.cfgPath)
		if code != 0 || !strings.Contains(out, "payload:") || !strings.Contains(out, `"note"`) {
			t.Errorf("outbox list --content (%s): exit %d\n%s", where, code, out)
		}
		code, out, errOut = cli("trace", id, "--config", r.cfgPath)
		if code != 0 || !strings.Contains(errOut, where) {
			t.Errorf("trace (%s): exit %d\n%s\n%s", where, code, out, errOut)
		}
		at := -1
		for _, k := range []string{"polled", "mapped", "link_queued", "link_sent", "linked", "note_received", "note_write"} {
			i := strings.Index(out[at+1:], " "+k+" ")
			if i < 0 {
				t.Errorf("trace (%s): no %s after byte %d:\n%s", where, k, at, out)
				break
			}
			at += 1 + i
		}
		if code, _, errOut := cli("trace", "NO-SUCH-INCIDENT", "--config", r.cfgPath); code != exitFailure || !strings.Contains(errOut, "no trace for incident NO-SUCH-INCIDENT") {
			t.Errorf("trace of an unknown incident (%s): exit %d %s", where, code, errOut)
		}
		if code, _, _ := cli("outbox", "list", "--topic", "bogus", "--config", r.cfgPath); code != exitProblems {
			t.Errorf("outbox list --topic bogus (%s): exit %d, want 2", where, code)
		}
	}
	check("through the running sidecar at http://" + r.admin)

	// Stopped as an operator would (its last trace events are saved on the way out).
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar did not stop within 30s of SIGTERM")
	}
	check("on the data file")
	logs, _ := os.ReadFile(r.logPath)
	if strings.Contains(string(logs), token) {
		t.Error("the log shows the admin token")
	}
}
