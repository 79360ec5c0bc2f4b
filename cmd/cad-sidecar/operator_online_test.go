package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// With the real binary running (it holds the data file), deadletter and cursor go through
// its admin API over loopback, with the same answers and the same refusals as offline.
func TestOperatorCommandsOnline(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 11})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 11, NotesPerCall: 1, NoteEvery: time.Second, PushRetryEvery: 100 * time.Millisecond})
	r := newRig(t, cad, as)
	db := filepath.Join(filepath.Dir(r.cfgPath), "data", "sidecar.db")
	seedDeadLetters(t, db, 2) // notes for INC-7, an incident the simulated CAD does not have
	r.start(t)
	waitFor(t, 15*time.Second, "admin listener", func() bool { return httpOK("http://" + r.admin + "/healthz") })

	code, out, errOut := cli("deadletter", "list", "--config", r.cfgPath)
	if code != 0 || !strings.Contains(errOut, "through the running sidecar at http://"+r.admin) ||
		!strings.Contains(out, "INC-7") || !strings.Contains(out, "2 dead letters") || strings.Contains(out, "smoke") {
		t.Fatalf("list: exit %d\n%s\n%s", code, out, errOut)
	}
	page := listJSON(t, "--content", "--config", r.cfgPath)
	if len(page.DeadLetters) != 2 || page.DeadLetters[0].Evidence == "" || !strings.Contains(page.DeadLetters[0].Text, "smoke") {
		t.Fatalf("list --json --content: %+v", page)
	}
	ids := []string{page.DeadLetters[0].ID, page.DeadLetters[1].ID}

	for _, b := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"deadletter", "drop", "note-999"}, 1, "no dead letter note-999"},
		{[]string{"deadletter", "replay", "bogus-1"}, 2, "unknown topic"},
		{[]string{"deadletter", "list", "--topic", "bogus"}, 2, "unknown topic"},
		{[]string{"cursor", "set", "2099-01-01T00:00:00Z"}, 2, "later than now + cad.cursor_tolerance"},
	} {
		code, _, errOut := cli(append(b.args, "--config", r.cfgPath)...)
		if code != b.code || !strings.Contains(errOut, b.msg) {
			t.Errorf("%v: exit %d %q; want %d with %q", b.args, code, errOut, b.code, b.msg)
		}
	}

	if code, out, errOut := cli("deadletter", "drop", ids[0], "--config", r.cfgPath); code != 0 || !strings.Contains(out, "dropped "+ids[0]) {
		t.Fatalf("drop: exit %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cli("deadletter", "replay", ids[1], "--config", r.cfgPath); code != 0 || !strings.Contains(out, "replayed "+ids[1]) {
		t.Fatalf("replay: exit %d %s %s", code, out, errOut)
	}
	// The CAD still has no INC-7: the replayed note is refused again, under a new id.
	waitFor(t, 15*time.Second, "the replayed note given up again", func() bool {
		p := listJSON(t, "--config", r.cfgPath)
		return len(p.DeadLetters) == 1 && p.DeadLetters[0].ID != ids[1] && p.DeadLetters[0].ID != ids[0]
	})
	if got := scrape(t, r.admin, `cad_sidecar_dead_letters{topic="note"}`); got != "1" {
		t.Fatalf("cad_sidecar_dead_letters{topic=note} = %q, want 1", got)
	}

	// The cursor: set (the simulated CAD's cursor is a change number), show, reset.
	if code, out, errOut := cli("cursor", "set", "5", "--config", r.cfgPath); code != 0 || !strings.Contains(out, `cursor set to "5"`) {
		t.Fatalf("cursor set: exit %d %s %s", code, out, errOut)
	}
	code, out, _ = cli("cursor", "show", "--json", "--config", r.cfgPath)
	var info sidecar.CursorInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || !info.Set {
		t.Fatalf("cursor show: exit %d %s", code, out)
	}
	if code, out, errOut := cli("cursor", "--reset", "--config", r.cfgPath); code != 0 || !strings.Contains(out, "cursor reset") {
		t.Fatalf("cursor --reset: exit %d %s %s", code, out, errOut)
	}
}

// scrape returns the value of one series of the binary's /metrics ("" if absent).
func scrape(t *testing.T, admin, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
