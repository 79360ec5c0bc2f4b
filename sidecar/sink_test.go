package sidecar_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// relayAdapter is a source-only integration (it reads the simulated CAD's incidents
// through the REST adapter's Source and has no sink of its own), so the notes must go
// through the adapter cad.sink names.
const relayAdapter = "test-relay"

var registerRelay sync.Once

// With cad.sink the notes go through another adapter than the source: incidents come from
// the relay, notes reach the CAD through the rest adapter in its sink role, and start-up
// names the sink.
func TestSeparateSinkWritesNotes(t *testing.T) {
	registerRelay.Do(func() {
		adapters.Register(adapters.Define(relayAdapter, rest.NewConfig, nil,
			func(c *rest.Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
				if !deps.SourceOnly {
					t.Error("Deps.SourceOnly not set for the source of a separate sink")
				}
				src, _, err := rest.New(c, deps)
				if err != nil {
					return nil, nil, err
				}
				return src, nil, nil
			}))
	})
	e := start(t, envOptions{register: true, logHandler: infoLogs, edit: func(c *config.Config) {
		rc := c.CAD.Settings.(*rest.Config)
		sink := *rc
		sink.Poll = rest.PollConfig{} // a sink-only section: no poll
		c.CAD.Adapter, c.CAD.Settings = relayAdapter, rc
		c.CAD.Sink, c.CAD.SinkSettings = rest.Name, &sink
	}})
	id := e.cad.AddIncident()
	waitFor(t, 20*time.Second, "the notes in the CAD through the separate sink", func() bool {
		return len(e.cad.Notes(id)) >= 4 // 3 INFO + CALL_COMPLETED
	})
	logs := e.logs.String()
	if !strings.Contains(logs, "adapter="+relayAdapter+" sink=rest") {
		t.Fatalf("start-up line does not name the sink:\n%s", logs)
	}
	if strings.Contains(logs, "read-only integration") {
		t.Fatal("a separate sink was taken for a read-only integration")
	}
}
