package eido_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters/adaptertest"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest" // cad.sink: rest (the notes)
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestConformance runs the adapter conformance suite: the "CAD" is the test conveyance
// server (wsServer) notifying EIDOs, and — the EIDO subscriber being read-only — the
// notes go through cad.sink: rest into internal/sim's CAD, whose incident numbers are the
// EIDOs' $id.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "eido", Start: startConformanceCAD})
}

type conformanceCAD struct {
	ws    *wsServer
	notes *sim.CAD
	url   string

	mu   sync.Mutex
	seen map[string]int // incident id → changes so far
}

var _ adaptertest.SeparateSink = (*conformanceCAD)(nil)

func startConformanceCAD(t *testing.T, _ adaptertest.Options) adaptertest.CAD {
	ws := newServer(t, func(s *wsServer) { s.expires = 2 }) // renewed every second: a successful read each time
	c := sim.NewCAD(sim.CADOptions{Seed: 5})
	srv := httptest.NewServer(c)
	ctx, cancel := context.WithCancel(context.Background())
	c.Start(ctx)
	t.Cleanup(func() { cancel(); c.Close(); srv.Close() })
	return &conformanceCAD{ws: ws, notes: c, url: srv.URL + "/api", seen: map[string]int{}}
}

func (c *conformanceCAD) Section(*testing.T) string {
	return fmt.Sprintf("url: %s\nreconnect: {initial: 50ms, max: 500ms}\n", c.ws.url())
}

func (c *conformanceCAD) SinkSection(*testing.T) (string, string) {
	return "rest", fmt.Sprintf(`base_url: %s
write_note: {method: POST, path: "/incidents/{{.IncidentID}}/notes", body: '{"text": {{json .Text}}}'}
`, c.url)
}

func (c *conformanceCAD) Mapping(*testing.T) string {
	return `incident_id: $id
fields:
  - {name: CallType, from: 'callComponent[0].standardPrimaryCallType', required: true}
  - {name: Updated, from: lastUpdateTimestamp}
`
}

// eido is the sample EIDO as incident id, after n changes.
func (c *conformanceCAD) eido(t *testing.T, id string, n int) map[string]any {
	e := testEIDO(t, id)
	e["lastUpdateTimestamp"] = time.Date(2021, 4, 30, 14, 43, n, 0, time.UTC).Format(time.RFC3339)
	return e
}

func (c *conformanceCAD) Add(t *testing.T) string {
	id := c.notes.AddIncident()
	c.ws.notify(t, c.eido(t, id, 0))
	return id
}

func (c *conformanceCAD) Change(t *testing.T, id string) {
	c.mu.Lock()
	c.seen[id]++
	n := c.seen[id]
	c.mu.Unlock()
	c.ws.notify(t, c.eido(t, id, n))
}

func (c *conformanceCAD) AddMalformed(t *testing.T) string {
	id := c.notes.AddIncidentWithoutNature()
	e := c.eido(t, id, 0)
	call := e["callComponent"].([]any)[0].(map[string]any)
	delete(call, "standardPrimaryCallType")
	c.ws.notify(t, e)
	return id
}

func (c *conformanceCAD) Notes(_ *testing.T, id string) []adaptertest.Note {
	var out []adaptertest.Note
	for _, n := range c.notes.Notes(id) {
		out = append(out, adaptertest.Note{Text: n.Text, Key: n.Key})
	}
	return out
}

func (c *conformanceCAD) SetDown(_ *testing.T, down bool) {
	c.ws.setDown(down)
	c.notes.SetDown(down)
}

func (c *conformanceCAD) Refuse(_ *testing.T, id string) string {
	const reason = "incident is closed to comments"
	c.notes.RefuseNotesFor(id, reason)
	return reason
}

func (c *conformanceCAD) TakesKey() bool { return true }
