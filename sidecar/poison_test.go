package sidecar_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The CAD refuses one note (503, every time) and accepts every other one: the short retry
// configuration of the "Done when" list of issue 7.
func startPoison(t *testing.T) *env {
	t.Helper()
	e := start(t, envOptions{edit: func(c *config.Config) {
		c.Outbox.Retry = config.RetryConfig{Initial: 200 * time.Millisecond, Max: time.Second}
	}})
	e.cad.SetRefuseNotes("POISON")
	return e
}

var noteSeq atomic.Int32

// postNote sends one Assist note webhook and checks it was accepted.
func postNote(t *testing.T, e *env, incident, text string, critical bool) {
	t.Helper()
	n := noteSeq.Add(1)
	body := fmt.Sprintf(`{"callId":"call-%s","incidentId":%q,"note":{"type":"INFO","note":%q,"critical":%v,"createdAt":"2026-11-25T10:%02d:%02dZ"}}`,
		incident, incident, text, critical, n/60, n%60)
	if resp, b := post(t, e.hookURL, hookToken, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook for %s: %d %s", incident, resp.StatusCode, b)
	}
}

// texts returns the texts of the notes the CAD stored for incident.
func (e *env) texts(incident string) []string {
	var out []string
	for _, n := range e.cad.Notes(incident) {
		out = append(out, n.Text)
	}
	return out
}

func hasText(texts []string, sub string) bool {
	return slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, sub) })
}

func (e *env) deadNotes(t *testing.T) []outbox.DeadLetter {
	t.Helper()
	ds, err := e.s.Store().DeadLetters(outbox.TopicNote)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestPoisonNoteDoesNotHoldUpItsIncidentOrOthers: incident A's first note is refused by the
// CAD every time, the note behind it is not critical. A critical note for incident B is
// written while A's note is still being retried (before it is given up: the breaker does
// not open on one incident's failures). Other incidents' notes keep coming (a busy
// center: one after each refusal), so A's refusals are strikes; A's refused note is given
// up after outbox.max_attempts (8) strikes and the note behind it reaches the CAD.
func TestPoisonNoteDoesNotHoldUpItsIncidentOrOthers(t *testing.T) {
	e := startPoison(t)
	a, b, c := e.cad.AddIncident(), e.cad.AddIncident(), e.cad.AddIncident()
	postNote(t, e, a, "POISON the CAD refuses this one", false)
	postNote(t, e, a, "behind the poison", false)
	waitFor(t, 30*time.Second, "the CAD refusing A's first note twice", func() bool { return e.cad.Refused() >= 2 })
	postNote(t, e, b, "critical for B", true)

	waitFor(t, 60*time.Second, "B's critical note in the CAD", func() bool { return hasText(e.texts(b), "critical for B") })
	bAt := e.cad.Notes(b)[0].At
	seen, others := e.cad.Refused(), 0
	waitFor(t, 60*time.Second, "the note behind A's refused note in the CAD", func() bool {
		if n := e.cad.Refused(); n > seen { // another incident's note after each refusal
			seen = n
			others++
			postNote(t, e, c, fmt.Sprintf("ordinary note %d for C", others), false)
		}
		return hasText(e.texts(a), "behind the poison")
	})

	// Given up at its 8th strike: at least 8 attempts (a refusal with no note of C
	// accepted since the one before is not a strike).
	ds := e.deadNotes(t)
	if len(ds) != 1 || ds[0].Key != a || ds[0].Strikes != 8 || ds[0].Attempts < 8 ||
		!strings.HasPrefix(ds[0].Reason, fmt.Sprintf("given up after %d attempts while the destination accepted other messages: ", ds[0].Attempts)) {
		t.Fatalf("dead letters = %+v; want A's refused note given up after 8 strikes", ds)
	}
	if !bAt.Before(ds[0].DeadAt) {
		t.Errorf("B's critical note arrived at %v, after A's refused note was given up (%v): it waited for A", bAt, ds[0].DeadAt)
	}
	if got := e.texts(a); len(got) != 1 || hasText(got, "POISON") {
		t.Errorf("incident A has notes %q, want only the note behind the poison", got)
	}
	if n := e.cad.Refused(); n != ds[0].Attempts {
		t.Errorf("the CAD refused %d writes, the dead letter says %d attempts", n, ds[0].Attempts)
	}
	if strings.Contains(e.logs.String(), "outbox destination down") {
		t.Error("one incident's refused note opened the CAD's breaker")
	}
	waitFor(t, 10*time.Second, "the ack of the note behind the poison committed", func() bool { return e.stats(t).Pending[outbox.TopicNote] == 0 })
	if st := e.stats(t); st.GivenUp[outbox.TopicNote] != 1 {
		t.Errorf("stats %+v: want 1 given up", st)
	}
	// The counter follows the dead letter's commit: wait for it, bounded.
	waitFor(t, 10*time.Second, "cad_sidecar_notes_given_up_total{topic=note} = 1", func() bool {
		return e.metric(t, "cad_sidecar_notes_given_up_total", "topic", "note") == 1
	})
	if got := e.metric(t, "cad_sidecar_notes_given_up_total", "topic", "link"); got != 0 {
		t.Errorf("cad_sidecar_notes_given_up_total{topic=link} = %v, want 0", got)
	}
	if !strings.Contains(e.logs.String(), "outbox message given up") {
		t.Error("no log line for the given-up note")
	}
}

// TestCriticalNoteBehindPoisonGoesSooner: a critical note waiting behind a note the CAD
// keeps refusing does not wait for outbox.max_attempts: the refused note is given up after
// outbox.urgent_attempts (3) once the CAD is seen accepting other notes.
func TestCriticalNoteBehindPoisonGoesSooner(t *testing.T) {
	e := startPoison(t)
	a, b := e.cad.AddIncident(), e.cad.AddIncident()
	postNote(t, e, a, "POISON the CAD refuses this one", false)
	postNote(t, e, a, "CRITICAL behind the poison", true)
	waitFor(t, 30*time.Second, "the CAD refusing A's first note twice", func() bool { return e.cad.Refused() >= 2 })
	postNote(t, e, b, "an ordinary note for B", false)
	waitFor(t, 60*time.Second, "B's note in the CAD", func() bool { return hasText(e.texts(b), "an ordinary note for B") })
	refusedBeforeB := e.cad.Refused()

	waitFor(t, 60*time.Second, "A's critical note in the CAD and the refused one given up", func() bool {
		// When the critical note was tried ahead of the refused one, the refused one is tried
		// once more and given up after the critical note's write: wait for both, bounded.
		return hasText(e.texts(a), "CRITICAL behind the poison") && len(e.deadNotes(t)) == 1
	})
	// Given up at its 3rd attempt, or at the first one after B's note was accepted — at the
	// latest when it next came up, without one more attempt — or, when the critical note was
	// tried ahead of it first, at the one more try right after that (4).
	ds := e.deadNotes(t)
	if len(ds) != 1 || ds[0].Key != a || ds[0].Attempts < 3 || ds[0].Attempts > max(4, refusedBeforeB+1) ||
		!strings.HasPrefix(ds[0].Reason, fmt.Sprintf("given up after %d attempts", ds[0].Attempts)) {
		t.Fatalf("dead letters = %+v; want A's refused note given up after 3 attempts (urgent rule; %d refusals before B's note was accepted)", ds, refusedBeforeB)
	}
	if got := e.texts(a); len(got) != 1 {
		t.Errorf("incident A has notes %q, want only the critical one", got)
	}
	t.Logf("given up after %d attempts", ds[0].Attempts)
}

// TestCriticalNoteBehindPoisonLoneIncident: one incident only, nothing else written: no
// other note can show the CAD is up. After outbox.urgent_attempts (3) refusals the critical
// note behind the refused one is sent ahead of it; the CAD accepts it, the refused note is
// tried once more at once, refused again, and given up.
func TestCriticalNoteBehindPoisonLoneIncident(t *testing.T) {
	e := startPoison(t)
	a := e.cad.AddIncident()
	postNote(t, e, a, "POISON the CAD refuses this one", false)
	postNote(t, e, a, "CRITICAL behind the poison", true)
	waitFor(t, 60*time.Second, "A's critical note in the CAD and the refused one given up", func() bool {
		return hasText(e.texts(a), "CRITICAL behind the poison") && len(e.deadNotes(t)) == 1
	})
	ds := e.deadNotes(t)
	if ds[0].Key != a || ds[0].Attempts != 4 || !strings.HasPrefix(ds[0].Reason, "given up after 4 attempts") {
		t.Fatalf("dead letters = %+v; want A's refused note given up after 4 attempts", ds)
	}
	// 4 attempts plus the uncounted second try back to back before the critical note went
	// ahead.
	if n := e.cad.Refused(); n != 5 {
		t.Errorf("the CAD refused %d writes, want 5", n)
	}
	if got := e.texts(a); len(got) != 1 {
		t.Errorf("incident A has notes %q, want only the critical one", got)
	}
	// The counter follows the dead letter's commit: wait for it, bounded.
	waitFor(t, 10*time.Second, "cad_sidecar_notes_given_up_total{topic=note} = 1", func() bool {
		return e.metric(t, "cad_sidecar_notes_given_up_total", "topic", "note") == 1
	})
}
