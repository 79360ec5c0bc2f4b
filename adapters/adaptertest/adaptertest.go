// Package adaptertest is the conformance suite every CAD adapter runs from its own tests
// (in the manner of Benthos' integration.StreamTests): given a Harness that can start the
// adapter's CAD, Run drives the whole sidecar in-process — the adapter as its source and
// sink, internal/sim's Assist on the other side — and checks what DESIGN.md promises of
// every integration:
//
//   - records in → LinkIncidentRequests out; a changed record re-linked, an unchanged one not;
//   - notes → the CAD, in order, with the idempotency key where the CAD can take it;
//   - a restart resumes without loss and without re-linking;
//   - the CAD unavailable → transient errors, retried, readiness false, then recovery;
//   - a malformed record reported with its incident id and skipped while the rest flows;
//   - a permanent refusal dead-lettered with the CAD's reason as evidence;
//   - ctx cancellation honoured: the sidecar (and the adapter's Run) stop promptly.
//
// The suite imports the sidecar; only tests import the suite, so no adapter package
// depends on the host.
package adaptertest

import (
	"testing"
)

// Harness starts one adapter's CAD for the suite.
type Harness struct {
	// Adapter is the adapter's name (cad.adapter).
	Adapter string
	// Start starts a fresh CAD for one case; it is stopped with t.Cleanup.
	Start func(t *testing.T, o Options) CAD
}

// Options say what a case needs of its CAD.
type Options struct {
	// Downable: the case calls CAD.SetDown (a harness may then start a CAD of its own
	// rather than share one).
	Downable bool
}

// CAD is one running CAD as the suite drives it. Every method fails t on error.
type CAD interface {
	// Section is the YAML of the adapter's section (cad.<adapter>), unindented, that reads
	// this CAD's incidents every second or so and writes notes into it.
	Section(t *testing.T) string
	// Mapping is the YAML of the mapping section's body (incident_id, fields; no note
	// section: the suite adds its own), unindented. It must require a field that
	// AddMalformed leaves out.
	Mapping(t *testing.T) string
	// Add creates an incident and returns its id (as the mapping reads it).
	Add(t *testing.T) string
	// Change changes a mapped field of incident id, so that its link must be sent again.
	Change(t *testing.T, id string)
	// AddMalformed creates an incident the mapping refuses (its id still readable) and
	// returns its id.
	AddMalformed(t *testing.T) string
	// Notes are the notes the CAD stored for incident id, in the order it stored them.
	Notes(t *testing.T, id string) []Note
	// SetDown makes the CAD unreachable for reads and writes (true), or reachable again.
	SetDown(t *testing.T, down bool)
	// Refuse makes the CAD refuse every note of incident id for good, and returns a part
	// of the reason it gives (which the dead letter's evidence must hold). A CAD that
	// cannot refuse one incident's notes (a folder takes every file) returns "": the case
	// is skipped, and the adapter's own tests hold its permanent errors.
	Refuse(t *testing.T, id string) string
	// TakesKey reports whether the CAD stores each note's idempotency key (Note.Key).
	TakesKey() bool
}

// Pusher is implemented by a CAD that pushes its incidents to the sidecar (cad.adapter:
// push) rather than being read: the suite tells it where the sidecar's public listener is
// each time the sidecar starts (the same address after a restart). A pushing CAD sends
// every incident it holds again every few hundred milliseconds, as a CAD that re-sends its
// open incidents does, so that each push counts as a read. With no read to fail, SetDown
// takes down only the CAD's notes API (its pushes go on): the suite checks "CAD
// unavailable" by the notes (they fail transiently, wait, then flow), not by readiness,
// and its cancellation case takes any first batch.
type Pusher interface {
	PushTo(t *testing.T, publicURL string)
}

// Sectioner is implemented by a CAD whose adapter needs other sections under cad: (the
// sink's: cad.push.sink: rest needs cad.rest). Sections is their YAML, unindented, keyed
// by section name at the top level ("rest:\n  base_url: ...").
type Sectioner interface {
	Sections(t *testing.T) string
}

// SeparateSink is implemented by a CAD whose adapter writes no notes itself (a read-only
// source such as eido): the suite sets cad.sink to the adapter SinkSection names, with
// section as its cad.<adapter> section (unindented), and Notes/Refuse/TakesKey speak for
// that sink's CAD.
type SeparateSink interface {
	SinkSection(t *testing.T) (adapter, section string)
}

// Note is one note as the CAD stored it.
type Note struct {
	Text string
	Key  string
}

// Run runs every case of the suite against h's CAD.
func Run(t *testing.T, h Harness) {
	t.Helper()
	cases := []struct {
		name string
		opts Options
		fn   func(t *testing.T, e *env)
	}{
		{"LinksChangesAndNotes", Options{}, linksChangesAndNotes},
		{"RestartResumes", Options{}, restartResumes},
		{"CADUnavailable", Options{Downable: true}, cadUnavailable},
		{"MalformedRecordSkipped", Options{}, malformedRecordSkipped},
		{"PermanentRefusalDeadLettered", Options{}, permanentRefusal},
		{"CancellationHonoured", Options{Downable: true}, cancellation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, h, c.opts)
			c.fn(t, e)
		})
	}
}
