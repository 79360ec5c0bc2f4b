package adapters_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// listConfig is the section of a tiny example adapter (cad.list): a fixed list of
// incidents, read from the host's cursor on (the cursor is the index reached).
type listConfig struct {
	Schedule  string   `koanf:"schedule"`
	Incidents []string `koanf:"incidents"`
}

// listFactory is the example adapter: a typed config (Define), a poll function turned into
// a Source (PollSource, reading the host's cursor through Deps.Cursor), no sink (a
// read-only integration).
var listFactory = adapters.Define("list",
	func() *listConfig { return &listConfig{Schedule: "@every 5s"} },
	func(c *listConfig) []adapters.Problem {
		if len(c.Incidents) == 0 {
			return []adapters.Problem{{Key: "incidents", Msg: "required"}}
		}
		return nil
	},
	func(c *listConfig, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
		poll := func(ctx context.Context, cursor string) (adapters.Batch, error) {
			from, _ := strconv.Atoi(cursor) // "" on the first poll: from 0
			b := adapters.Batch{Cursor: strconv.Itoa(len(c.Incidents)), CursorKind: adapters.CursorSequence}
			for _, id := range c.Incidents[min(from, len(c.Incidents)):] {
				b.Records = append(b.Records, adapters.Record{"IncidentNumber": id})
			}
			return b, nil
		}
		src, err := adapters.PollSource(poll, c.Schedule, deps.Cursor)
		if err != nil {
			return nil, nil, err
		}
		return src, nil, nil
	})

// An adapter in a few lines, run the way the sidecar runs it: the first poll at once, each
// batch handed to emit (here: printed; the sidecar maps, queues and stores the cursor).
func ExampleDefine() {
	cfg := listFactory.NewConfig().(*listConfig)
	cfg.Incidents = []string{"FIRE-1", "MED-2"}
	if probs := listFactory.Validate(cfg); len(probs) > 0 {
		fmt.Println(probs)
		return
	}
	src, _, err := listFactory.New(cfg, adapters.Deps{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	_ = src.Run(ctx, func(_ context.Context, b adapters.Batch) error {
		fmt.Println(len(b.Records), "records, cursor", b.Cursor, "read from", strconv.Quote(b.Since))
		cancel() // one batch is enough for the example
		return nil
	})
	// Output: 2 records, cursor 2 read from ""
}
