package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// A note write already sent when the sidecar is told to stop (SIGTERM) is let finish: the
// CAD stored it and answers late, the outbox acknowledges it, and the restarted sidecar
// does not write it again (before, the write was cancelled, left pending, and sent twice).
func TestStopLetsAnInFlightNoteWriteFinish(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 11})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 11, NotesPerCall: 1, NoteEvery: 50 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond})
	r := newRig(t, cad, as)
	cad.SetAnswerDelay(1500 * time.Millisecond) // stored at once, answered 1.5 s later
	p := r.start(t)
	id := cad.AddIncident()
	waitFor(t, 30*time.Second, "the first note stored by the CAD (its answer still to come)", func() bool {
		return len(cad.Notes(id)) > 0
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar did not stop within 30 s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	cad.SetAnswerDelay(0)
	p = r.start(t)
	waitFor(t, 30*time.Second, "every note Assist had acknowledged in the CAD", func() bool {
		acked := 0
		for _, a := range as.Acked() {
			if a.IncidentID == id {
				acked++
			}
		}
		keys := map[string]bool{}
		for _, n := range cad.Notes(id) {
			keys[n.Key] = true
		}
		return acked > 0 && as.Pending() == 0 && len(keys) >= acked
	})
	p.kill()
	seen := map[string]int{}
	for _, n := range cad.Notes(id) {
		seen[n.Key]++
	}
	for k, c := range seen {
		if c > 1 {
			t.Errorf("note %s written %d times: the write in flight at the stop was sent again after the restart", k, c)
		}
	}
}
