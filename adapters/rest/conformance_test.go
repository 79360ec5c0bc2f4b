package rest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters/adaptertest"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestConformance runs the adapter conformance suite against internal/sim's REST CAD.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "rest", Start: startSimCAD})
}

// TestConformancePaged runs the suite with pagination and detail calls on: internal/sim's
// vendor-style API (sim.CADAPI) lists ids in pages of 2, linked by links.next, and each
// record is its detail.
func TestConformancePaged(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "rest", Start: startPagedCAD})
}

// TestConformanceSlowAnswers runs the suite against a CAD that stores each note and
// answers 300ms later: a sidecar stopped right after a note appeared in the CAD (the
// restart case does that) never got the answer, keeps the note and writes it again after
// the restart, under the same idempotency key — the at-least-once delivery a CAD that
// honours the key deduplicates. The suite counts a note written twice under one key once.
func TestConformanceSlowAnswers(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "rest", Start: func(t *testing.T, o adaptertest.Options) adaptertest.CAD {
		c := startSimCAD(t, o)
		c.(*simCAD).c.SetAnswerDelay(300 * time.Millisecond)
		return c
	}})
}

// simCAD is internal/sim's CAD behind a loopback HTTP server.
type simCAD struct {
	c   *sim.CAD
	url string
	// section is the cad.rest section's YAML, given the base URL (nil = the plain CAD's).
	section func(base string) string
}

func startPagedCAD(t *testing.T, _ adaptertest.Options) adaptertest.CAD {
	c := sim.NewCAD(sim.CADOptions{Seed: 5})
	srv := httptest.NewServer(sim.NewCADAPI(c, sim.CADAPIOptions{Paging: sim.PageNext, PageSize: 2, Summary: true}))
	t.Cleanup(func() { c.Close(); srv.Close() })
	return &simCAD{c: c, url: srv.URL + "/api", section: func(base string) string {
		return fmt.Sprintf(`base_url: %s
poll:
  schedule: "@every 1s"
  path: "/v2/incidents?since={{.Cursor}}"
  items: data
  cursor_field: updated
  pagination: {next: links.next, max_pages: 2}
  detail: {path: "/v2/incidents/{{.Id}}"}
write_note: {path: "/v2/incidents/{{.IncidentID}}/notes"}
`, base)
	}}
}

func startSimCAD(t *testing.T, _ adaptertest.Options) adaptertest.CAD {
	c := sim.NewCAD(sim.CADOptions{Seed: 5})
	srv := httptest.NewServer(c)
	ctx, cancel := context.WithCancel(context.Background())
	c.Start(ctx)
	t.Cleanup(func() { cancel(); c.Close(); srv.Close() })
	return &simCAD{c: c, url: srv.URL + "/api"}
}

func (s *simCAD) Section(*testing.T) string {
	if s.section != nil {
		return s.section(s.url)
	}
	return fmt.Sprintf(`base_url: %s
poll: {schedule: "@every 1s", path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}
`, s.url)
}

func (s *simCAD) Mapping(*testing.T) string {
	return `incident_id: IncidentNumber
user_id: CallTaker.Id
fields:
  - {name: NatureCode, from: Nature.Code, required: true}
  - {name: Status, from: Status}
  - {name: Priority, from: Pri}
`
}

func (s *simCAD) Add(*testing.T) string           { return s.c.AddIncident() }
func (s *simCAD) AddMalformed(*testing.T) string  { return s.c.AddIncidentWithoutNature() }
func (s *simCAD) SetDown(_ *testing.T, down bool) { s.c.SetDown(down) }
func (s *simCAD) TakesKey() bool                  { return true }

func (s *simCAD) Change(t *testing.T, id string) {
	if !s.c.UpdateIncident(id) {
		t.Fatalf("no incident %s", id)
	}
}

func (s *simCAD) Notes(_ *testing.T, id string) []adaptertest.Note {
	var out []adaptertest.Note
	for _, n := range s.c.Notes(id) {
		out = append(out, adaptertest.Note{Text: n.Text, Key: n.Key})
	}
	return out
}

func (s *simCAD) Refuse(_ *testing.T, id string) string {
	const reason = "incident is closed to comments"
	s.c.RefuseNotesFor(id, reason)
	return reason
}
