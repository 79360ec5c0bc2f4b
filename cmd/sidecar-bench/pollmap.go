package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/benchdata"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

type pollMapResult struct {
	Bench           string  `json:"bench"`
	Records         int     `json:"records"`
	MsPerCycle      float64 `json:"ms_per_cycle"`
	AllocsPerRecord float64 `json:"allocs_per_record"`
	Target          string  `json:"target"`
	OK              bool    `json:"ok"`
}

func (pollMapResult) failed() error { return nil }

func (r pollMapResult) key() float64 { return r.MsPerCycle }

func (r pollMapResult) judge() result {
	r.OK = r.MsPerCycle <= 50
	return r
}

// runPollMap measures sidecar.Detect over a steady-state poll: every record was seen in
// the previous cycle (its hash is known, from a map filled as the sidecar's hash cache
// would be) except ~1% changed since. Each cycle changes a fresh 1% (not timed), collects
// garbage (not timed, so every cycle starts from the same heap; a collection the cycle's
// own allocations trigger is timed), runs Detect (timed, Mallocs counted), then records the
// new hashes (not timed). It reports the median time and the mean allocations per record.
func runPollMap(ctx context.Context, p params) (result, error) {
	m, probs := mapping.Compile(benchdata.PollMapping())
	if len(probs) > 0 {
		return nil, fmt.Errorf("mapping: %v", probs)
	}
	recs, err := benchdata.PollRecords(p.PollRecords)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	hashes := make(map[string]string, len(recs))
	known := func(id string) string { return hashes[id] } // read-only during Detect
	record := func(changes []sidecar.Change) (queued int, err error) {
		for _, c := range changes {
			switch c.Outcome {
			case sidecar.Failed:
				return 0, fmt.Errorf("incident %s: %w", c.IncidentID, c.Err)
			case sidecar.Queue:
				hashes[c.IncidentID] = c.Hash
				queued++
			}
		}
		return queued, nil
	}
	if _, err := record(sidecar.Detect(m, recs, known)); err != nil { // the previous cycle
		return nil, err
	}

	stopProf := p.profile("poll-map")
	defer stopProf()
	changed := max(1, len(recs)/100)
	var times []time.Duration
	var mallocs uint64
	var ms0, ms1 runtime.MemStats
	for cycle := range p.PollCycles {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for k := range changed { // a fresh 1% of the records changes
			rec := recs[(cycle*changed+k)%len(recs)]
			pri, _ := rec["Pri"].(string)
			rec["Pri"] = map[string]string{"1": "2", "2": "3"}[pri]
			if rec["Pri"] == "" {
				rec["Pri"] = "1"
			}
			rec["updated"] = json.Number(strconv.Itoa(len(recs)*(cycle+1) + k))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		out := sidecar.Detect(m, recs, known)
		el := time.Since(start)
		runtime.ReadMemStats(&ms1)
		times = append(times, el)
		mallocs += ms1.Mallocs - ms0.Mallocs
		queued, err := record(out)
		if err != nil {
			return nil, err
		}
		if queued != changed {
			return nil, fmt.Errorf("cycle %d: %d records queued, %d changed", cycle, queued, changed)
		}
	}
	slices.Sort(times)
	med := times[len(times)/2]
	p.logf("poll-map: %d cycles of %d records (%d changed each): min %s, median %s, max %s",
		len(times), len(recs), changed, times[0].Round(time.Microsecond), med.Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond))
	r := pollMapResult{
		Bench:           "poll-map",
		Records:         len(recs),
		MsPerCycle:      round(ms(med), 2),
		AllocsPerRecord: round(float64(mallocs)/float64(len(times)*len(recs)), 1),
		Target:          "ms_per_cycle<=50",
	}
	return r, nil
}
