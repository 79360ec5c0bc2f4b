package sidecar_test

import (
	"strings"
	"testing"
	"time"
)

// TestPollFailuresLoggedOnce: the CAD is down for several polls; the log has one WARN
// "CAD poll failed" (not one per poll) and, once it is back, one INFO "CAD poll recovered"
// saying how many polls failed.
func TestPollFailuresLoggedOnce(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	waitFor(t, 20*time.Second, "3 failed polls", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "error") >= 3
	})
	if n := strings.Count(e.logs.String(), `level=WARN msg="CAD poll failed"`); n != 1 {
		t.Fatalf("%d WARN lines for %v failed polls, want 1", n, e.metric(t, "cad_sidecar_cad_polls_total", "result", "error"))
	}
	e.cad.SetDown(false)
	waitFor(t, 20*time.Second, "the recovery logged", func() bool {
		return strings.Contains(e.logs.String(), `level=INFO msg="CAD poll recovered"`)
	})
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `msg="CAD poll recovered"`) && (!strings.Contains(l, "failed_polls=") || !strings.Contains(l, "failed_for=")) {
			t.Errorf("recovery line lacks count or duration: %s", l)
		}
	}
}
