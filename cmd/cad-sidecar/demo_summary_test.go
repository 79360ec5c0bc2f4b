package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// The demo's simulated Assist loses a CALL_COMPLETED note, and the demo shows the call's
// summary reaching the CAD instead (its log, and the CAD's record of writes), once.
func TestDemoShowsSummaryFallback(t *testing.T) {
	var (
		cad *sim.CAD
		as  *sim.Assist
	)
	onDemoSims = func(c *sim.CAD, a *sim.Assist) { cad, as = c, a }
	t.Cleanup(func() { onDemoSims = nil })
	var stdout, stderr lockedBuffer
	if code := cmdDemo(context.Background(), []string{"--duration", "14s"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("demo: exit %d\n%s", code, stderr.String())
	}
	logs := stderr.String()
	for _, want := range []string{
		`msg="simulated loss: this call's CALL_COMPLETED note will not be sent"`,
		`msg="no CALL_COMPLETED note within the grace: the call's summary is queued as one"`,
		`msg="note written to CAD" incident_id=`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the demo's log has no %s", want)
		}
	}
	fallbacks := 0
	for _, id := range cad.Incidents() {
		n := summaryNotesIn(cad, id)
		if n > 0 && !as.CompletedDropped(id) {
			t.Errorf("incident %s: a summary fallback although its CALL_COMPLETED note was sent", id)
		}
		if n > 1 {
			t.Errorf("incident %s: %d summary notes", id, n)
		}
		fallbacks += n
	}
	if fallbacks == 0 {
		t.Errorf("no summary fallback reached the simulated CAD in 14s")
	}
	if t.Failed() {
		t.Logf("demo log:\n%s", logs)
	}
}
