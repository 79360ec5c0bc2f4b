package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/internal/testseed"
)

// TestCrashLoop runs the real binary while Assist sends notes continuously, SIGKILLs it 20
// times at random moments (restarting it each time), and then checks that every note the
// sidecar acknowledged reached the CAD, in order per incident. Duplicates are counted: the
// sidecar drops re-sent webhooks by idempotency key, and the simulated CAD honours the
// Idempotency-Key header the sidecar sends, so a note written just before a kill and
// written again after it is refused there.
func TestCrashLoop(t *testing.T) {
	const kills = 20
	seed := testseed.Seed(t) // SIDECAR_TEST_SEED=N replays a run; printed on failure
	rng := rand.New(rand.NewPCG(seed, 0))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: int64(seed), DedupByKey: true, NewIncidentEvery: 400 * time.Millisecond})
	as := sim.NewAssist(sim.AssistOptions{
		Token: rigToken, Seed: int64(seed), NotesPerCall: 8, NoteEvery: 80 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond, PushTimeout: time.Second,
	})
	r := newRig(t, cad, as)

	for range 6 {
		cad.AddIncident()
	}
	cad.Start(ctx) // more incidents keep appearing while the sidecar is being killed
	p := r.start(t)
	for i := range kills {
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		p.kill()
		p = r.start(t)
		if i == kills/2 {
			cad.Close() // stop creating incidents; the calls already linked go on
		}
	}
	waitFor(t, 15*time.Second, "the last restart to serve", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	waitFor(t, 120*time.Second, "every call finished and every acknowledged note in the CAD", func() bool {
		return as.Pending() == 0 && missing(cad, as) == 0
	})

	acked, stored := 0, 0
	for _, id := range cad.Incidents() {
		want := ackedTexts(as, id)
		acked += len(want)
		ackedSet := map[string]bool{}
		for _, w := range want {
			ackedSet[w] = true
		}
		seen := map[string]bool{}
		var order []string
		for _, n := range cad.Notes(id) {
			stored++
			if seen[n.Text] || !ackedSet[n.Text] {
				continue
			}
			seen[n.Text] = true
			order = append(order, n.Text)
		}
		if strings.Join(order, "\n") != strings.Join(want, "\n") {
			t.Errorf("incident %s: CAD order\n%s\nwant acknowledged order\n%s", id, strings.Join(order, "\n"), strings.Join(want, "\n"))
		}
	}
	if acked == 0 {
		t.Fatal("no note was acknowledged: the test proved nothing")
	}
	ps := as.PushStats()
	t.Logf("kills=%d acknowledged=%d delivered=%d cad_rows_beyond_acknowledged=%d duplicates_refused_by_idempotency_key=%d webhook_pushes=%d failed_pushes=%d links=%d",
		kills, acked, cad.NoteCount(), stored-acked, cad.Duplicates(), ps.Attempted, ps.Failed, as.LinkCount())
}
