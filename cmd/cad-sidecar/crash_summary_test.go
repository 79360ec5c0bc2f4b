package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// setRigSummary turns mapping.note.summary on in the rig's config, with the given grace.
func setRigSummary(t *testing.T, cfgPath, grace string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const line = `note: {text: "{{.CreatedAt}}|{{.Note}}"}`
	if !strings.Contains(string(b), line) {
		t.Fatalf("the rig's config has no line %q to add the summary to:\n%s", line, b)
	}
	cfg := strings.Replace(string(b), line, `note: {text: "{{.CreatedAt}}|{{.Note}}", summary: {enabled: true, grace: `+grace+`}}`, 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// summaryNotesIn counts the summary fallback notes of an incident by their Idempotency-Key:
// a SIGKILL between the CAD's 2xx and the outbox's ack makes the same note be written again
// after the restart, with the same key, which the CAD deduplicates (at-least-once delivery,
// exactly once in the CAD); a second fallback of the same call would also carry the same
// key ("summary:<callId>"), so a second key means a fallback for another call landed here.
func summaryNotesIn(cad *sim.CAD, id string) int {
	keys := map[string]bool{}
	for _, note := range cad.Notes(id) {
		if strings.HasPrefix(note.Key, "summary:") {
			keys[note.Key] = true
		}
	}
	return len(keys)
}

// The real binary is SIGKILLed between a call's end and its summary fallback (Assist lost
// the CALL_COMPLETED note; GET /call fails until after the kill, so the fallback cannot
// have been written): after the restart the fallback is still done, once. Two more
// restarts, each followed by another call's fallback (so the runner has gone through its
// state), repeat no summary.
func TestSummaryFallbackSurvivesRestart(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 5})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 5, NoteEvery: 50 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond, DropCompletedEvery: 1})
	r := newRig(t, cad, as)
	setRigSummary(t, r.cfgPath, "300ms")

	p := r.start(t)
	first := cad.AddIncident()
	as.FailCall(first, http.StatusServiceUnavailable)
	waitFor(t, 30*time.Second, "the first call linked, ended and its fallback tried", func() bool {
		callID := as.Links()[first]
		return callID != "" && as.Pending() == 0 && as.CallGets(callID) > 0
	})
	if n := summaryNotesIn(cad, first); n != 0 {
		t.Fatalf("%d summary notes while GET /call fails", n)
	}
	p.kill()
	as.FailCall(first, 0)

	incidents := []string{first}
	for round := range 3 {
		p = r.start(t)
		if round > 0 { // after the first restart: the pending fallback of the first call
			incidents = append(incidents, cad.AddIncident())
		}
		waitFor(t, 30*time.Second, "every summary in the CAD", func() bool {
			for _, id := range incidents {
				if summaryNotesIn(cad, id) == 0 {
					return false
				}
			}
			return true
		})
		p.kill()
	}
	for _, id := range incidents {
		if n := summaryNotesIn(cad, id); n != 1 {
			t.Errorf("incident %s: %d summary notes, want 1", id, n)
		}
	}
}
