package sidecar_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/benchdata"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// BenchmarkDetect is one steady-state CAD poll of 10,000 records (all known, unchanged):
// mapping plus change detection, as cmd/sidecar-bench's poll-map.
func BenchmarkDetect(b *testing.B) {
	m, probs := mapping.Compile(benchdata.PollMapping())
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	recs, err := benchdata.PollRecords(10_000)
	if err != nil {
		b.Fatal(err)
	}
	hashes := map[string]string{}
	for _, c := range sidecar.Detect(m, recs, func(string) string { return "" }) {
		hashes[c.IncidentID] = c.Hash
	}
	known := func(id string) string { return hashes[id] }
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range sidecar.Detect(m, recs, known) {
			if c.Outcome != sidecar.Unchanged {
				b.Fatalf("incident %s: outcome %v", c.IncidentID, c.Outcome)
			}
		}
	}
}

// BenchmarkWebhookIngest posts note webhooks over loopback HTTP to a running sidecar (the
// real receiver and outbox; the simulated CAD takes the notes meanwhile), from parallel
// clients, as cmd/sidecar-bench's ingest.
func BenchmarkWebhookIngest(b *testing.B) {
	e := start(b, envOptions{})
	id := e.cad.AddIncident()
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := noteBody(id, "note "+strconv.FormatInt(n.Add(1), 10))
			req, _ := http.NewRequest(http.MethodPost, e.hookURL, strings.NewReader(body))
			req.Header.Set("Authorization", hookToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
