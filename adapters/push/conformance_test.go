package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters/adaptertest"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestConformance runs the adapter conformance suite with a CAD that pushes: internal/sim's
// CAD holds the incidents and takes the notes (through cad.rest, cad.push.sink: rest),
// and a pusher POSTs each of its incidents, HMAC-signed, to the sidecar's public listener
// every 100ms, as a CAD's outbound interface re-sending its open incidents.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "push", Start: startPushCAD})
}

const conformanceSecret = "conformance-secret-0123456789"

type pushCAD struct {
	c      *sim.CAD
	api    string
	target atomic.Pointer[string]
	once   sync.Once
	ctx    context.Context
	wg     *sync.WaitGroup
}

func startPushCAD(t *testing.T, _ adaptertest.Options) adaptertest.CAD {
	c := sim.NewCAD(sim.CADOptions{Seed: 5})
	srv := httptest.NewServer(c)
	ctx, cancel := context.WithCancel(context.Background())
	c.Start(ctx)
	p := &pushCAD{c: c, api: srv.URL + "/api", ctx: ctx, wg: &sync.WaitGroup{}}
	t.Cleanup(func() { cancel(); p.wg.Wait(); c.Close(); srv.Close() })
	return p
}

// PushTo starts the pusher (once) and points it at the sidecar.
func (p *pushCAD) PushTo(_ *testing.T, publicURL string) {
	u := publicURL + "/cad/incidents"
	p.target.Store(&u)
	p.once.Do(func() {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-p.ctx.Done():
					return
				case <-tick.C:
				}
				for _, id := range p.c.Incidents() {
					inc, ok := p.c.Incident(id)
					if !ok {
						continue
					}
					p.push(client, inc)
				}
			}
		}()
	})
}

// push POSTs one incident, signed; the answer does not matter (the next tick sends again).
func (p *pushCAD) push(client *http.Client, inc sim.CADIncident) {
	body, err := json.Marshal(inc)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, *p.target.Load(), bytes.NewReader(body))
	if err != nil {
		return
	}
	for k, v := range signWith(conformanceSecret, time.Now(), string(body)) {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return // the sidecar is stopped or restarting
	}
	resp.Body.Close()
}

func (p *pushCAD) Section(*testing.T) string {
	return fmt.Sprintf(`path: /cad/incidents
auth: {hmac: {secret: %s}}
sink: rest
`, conformanceSecret)
}

// Sections is the REST sink's section: notes into the simulated CAD's API.
func (p *pushCAD) Sections(*testing.T) string {
	return fmt.Sprintf(`rest:
  base_url: %s
  write_note: {path: "/incidents/{{.IncidentID}}/notes"}
`, p.api)
}

func (p *pushCAD) Mapping(*testing.T) string {
	return `incident_id: IncidentNumber
user_id: CallTaker.Id
fields:
  - {name: NatureCode, from: Nature.Code, required: true}
  - {name: Status, from: Status}
  - {name: Priority, from: Pri}
`
}

func (p *pushCAD) Add(*testing.T) string          { return p.c.AddIncident() }
func (p *pushCAD) AddMalformed(*testing.T) string { return p.c.AddIncidentWithoutNature() }

// SetDown takes down the CAD's notes API; its pushes go on (adaptertest.Pusher).
func (p *pushCAD) SetDown(_ *testing.T, down bool) { p.c.SetDown(down) }
func (p *pushCAD) TakesKey() bool                  { return true }

func (p *pushCAD) Change(t *testing.T, id string) {
	if !p.c.UpdateIncident(id) {
		t.Fatalf("no incident %s", id)
	}
}

func (p *pushCAD) Notes(_ *testing.T, id string) []adaptertest.Note {
	var out []adaptertest.Note
	for _, n := range p.c.Notes(id) {
		out = append(out, adaptertest.Note{Text: n.Text, Key: n.Key})
	}
	return out
}

func (p *pushCAD) Refuse(_ *testing.T, id string) string {
	const reason = "incident is closed to comments"
	p.c.RefuseNotesFor(id, reason)
	return reason
}

var (
	_ adaptertest.Pusher    = (*pushCAD)(nil)
	_ adaptertest.Sectioner = (*pushCAD)(nil)
)
