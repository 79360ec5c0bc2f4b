package sidecar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// A summary-fallback note is shown as what it is in the CAD — a CALL_COMPLETED note —
// marked as coming from the summary fallback (source "summary_fallback"), and critical
// when note.summary.critical says so: in the outbox listing while queued, in the links
// while queued and once delivered, and in the trace. The log has one INFO line for it,
// before the line of its write into the CAD.
func TestSummaryFallbackShownAsCompletedNote(t *testing.T) {
	e := start(t, envOptions{register: true, assist: dropAll,
		mapping: callNotesMapping("    summary: {enabled: true, grace: 1h, critical: 'true'}\n")})
	id := e.cad.AddIncident()
	waitEnded(t, e, id)
	waitFor(t, 20*time.Second, "the call's notes written", func() bool { return e.stats(t).Pending[`note`] == 0 })
	e.cad.SetDown(true) // the summary stays queued
	e.s.SkewCallNotesClock(2 * time.Hour)
	var queued sidecar.OutboxMessage
	waitFor(t, 20*time.Second, "the summary note queued", func() bool {
		page, err := sidecar.ListOutbox(e.s.Store(), sidecar.OutboxQuery{Topic: "note"})
		if err != nil || len(page.Messages) == 0 {
			return false
		}
		queued = page.Messages[0]
		return true
	})
	if !queued.Critical || queued.Type != "CALL_COMPLETED" || queued.Source != "summary_fallback" {
		t.Errorf("outbox listing of the queued summary: type %q source %q critical %v, want CALL_COMPLETED summary_fallback true",
			queued.Type, queued.Source, queued.Critical)
	}
	// lastNote is the incident's last note in the links (zero: none, or the note is being
	// written at this moment).
	lastNote := func() sidecar.LastNote {
		t.Helper()
		page, err := sidecar.ListLinks(e.s.Store(), sidecar.LinkQuery{Incident: id})
		if err != nil || len(page.Links) != 1 {
			t.Fatalf("links of %s: %+v, %v", id, page, err)
		}
		if page.Links[0].LastNote == nil {
			return sidecar.LastNote{}
		}
		return *page.Links[0].LastNote
	}
	waitFor(t, 10*time.Second, "the summary note queued in the links", func() bool { return lastNote().State == "queued" })
	want := sidecar.LastNote{Type: "CALL_COMPLETED", Source: "summary_fallback", Critical: true, State: "queued"}
	if ln := lastNote(); ln.Type != want.Type || ln.Source != want.Source || ln.Critical != want.Critical || ln.State != want.State {
		t.Errorf("links, queued: last note %+v, want %+v", ln, want)
	}
	e.cad.SetDown(false)
	waitFor(t, 30*time.Second, "the summary note in the CAD", func() bool { return len(summaryNotes(e, id)) == 1 })
	waitFor(t, 10*time.Second, "the summary note delivered in the links", func() bool { return lastNote().State == "delivered" })
	want.State = "delivered"
	if ln := lastNote(); ln.Type != want.Type || ln.Source != want.Source || ln.Critical != want.Critical {
		t.Errorf("links, delivered: last note %+v, want %+v", ln, want)
	}
	tr, err := sidecar.ReadTrace(e.s.Store(), id)
	if err != nil {
		t.Fatal(err)
	}
	var events int
	for _, ev := range tr.Events {
		if !strings.HasPrefix(ev.NoteID, "summary:") {
			continue
		}
		events++
		if ev.NoteType != "CALL_COMPLETED" || ev.Source != "summary_fallback" || !ev.Critical {
			t.Errorf("trace event %s of the summary: note_type %q source %q critical %v", ev.Kind, ev.NoteType, ev.Source, ev.Critical)
		}
		if strings.Contains(ev.Detail, "via summary") {
			t.Errorf("trace event %s: detail %q", ev.Kind, ev.Detail)
		}
	}
	if events < 2 {
		t.Errorf("%d trace events of the summary note, want received, write(s), delivered", events)
	}

	logs := e.logs.String()
	if n := strings.Count(logs, `level=INFO msg="summary note queued"`); n != 0 {
		t.Errorf("%d redundant \"summary note queued\" lines", n)
	}
	const queuedLine = `level=INFO msg="no CALL_COMPLETED note within the grace: the call's summary is queued as one"`
	if n := strings.Count(logs, queuedLine); n != 1 {
		t.Fatalf("%d lines %s, want 1", n, queuedLine)
	}
	written := strings.Index(logs, `msg="note written to CAD" incident_id=`+id+` type=CALL_COMPLETED critical=true`)
	if q := strings.Index(logs, queuedLine); written < 0 || q > written {
		t.Errorf("the queued line (at %d) is not before the summary's write (at %d)", q, written)
	}
}
