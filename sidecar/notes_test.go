package sidecar_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// In every notes mode each note Assist produces reaches the CAD exactly once, in order per
// incident; in "both" a note that arrives by push and by pull is written once.
func TestNotesModes(t *testing.T) {
	for _, mode := range []string{"push", "pull", "both"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, envOptions{notes: mode, register: mode != "pull"})
			ids := []string{e.cad.AddIncident(), e.cad.AddIncident()}
			const perCall = 3 + 1 // INFO notes + CALL_COMPLETED
			waitFor(t, 20*time.Second, "every note in the CAD", func() bool {
				for _, id := range ids {
					if len(e.cad.Notes(id)) < perCall {
						return false
					}
				}
				return true
			})
			time.Sleep(1500 * time.Millisecond) // one more pull round: nothing may be written twice
			for _, id := range ids {
				var want []string
				for _, n := range e.as.NotesFor(id) {
					want = append(want, n.CreatedAt+"|"+n.Note)
				}
				var got []string
				for _, n := range e.cad.Notes(id) {
					got = append(got, n.Text)
				}
				if len(got) != len(want) {
					t.Fatalf("incident %s: CAD has %d notes, Assist produced %d:\n%q\n%q", id, len(got), len(want), got, want)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("incident %s note %d: %q, want %q", id, i, got[i], want[i])
					}
				}
			}
			if mode == "both" && e.metric(t, "cad_sidecar_notes_received_total", "result", "duplicate") == 0 {
				t.Fatal("both mode saw no duplicate: push and pull did not overlap")
			}
		})
	}
}

// /readyz says what is wrong: here, the CAD cannot be polled.
func TestReadiness(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	get := func() (int, map[string]any) {
		resp, err := http.Get(e.adminURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("readyz body %q: %v", b, err)
		}
		return resp.StatusCode, v
	}
	waitFor(t, 10*time.Second, "a failed poll", func() bool {
		return e.metric(t, "cad_sidecar_cad_polls_total", "result", "error") >= 1
	})
	code, body := get()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d with the CAD down: %v", code, body)
	}
	checks := body["checks"].(map[string]any)
	if poll := checks["cad_poll"].(map[string]any); poll["ok"] != false || poll["detail"] == "" {
		t.Fatalf("cad_poll check: %v", poll)
	}
	if checks["store"].(map[string]any)["ok"] != true || checks["webhook"].(map[string]any)["ok"] != true {
		t.Fatalf("checks: %v", checks)
	}
	e.cad.SetDown(false)
	waitFor(t, 10*time.Second, "ready", func() bool { c, _ := get(); return c == http.StatusOK })
	if resp, err := http.Get(e.adminURL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}
