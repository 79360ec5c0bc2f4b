package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/benchdata"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

type pollMapResult struct {
	Bench              string  `json:"bench"`
	Records            int     `json:"records"`
	MsPerCycle         float64 `json:"ms_per_cycle"`
	AllocsPerRecord    float64 `json:"allocs_per_record"`
	BaselineMsPerCycle float64 `json:"baseline_ms_per_cycle"`
	Ratio              float64 `json:"ratio"`
	Target             string  `json:"target"`
	OK                 bool    `json:"ok"`
}

// pollMapTargetRatio: the baseline's time (decoding the poll's answer, then mapping each
// record in turn, no change detection: the work of a poll without the sidecar's
// optimisations) over Detect's (mapping on every core plus change detection).
const pollMapTargetRatio = 2.0

func (pollMapResult) failed() error { return nil }

func (r pollMapResult) key() float64 { return r.Ratio }

func (r pollMapResult) ratios() (got, target float64) { return r.Ratio, pollMapTargetRatio }

func (r pollMapResult) judge() result {
	r.OK = r.MsPerCycle <= pollMapTargetMs && r.Ratio >= pollMapTargetRatio
	return r
}

// pollMapTargetMs bounds one cycle of Detect: mapping and change detection.
const pollMapTargetMs = 50

// pollBody is a poll's answer as the REST CAD sends it: {"data": [records]}.
func pollBody(recs []adapters.Record) ([]byte, error) {
	return json.Marshal(map[string]any{"data": recs})
}

// decodePoll decodes a poll's answer as the REST adapter does (json.Number kept).
func decodePoll(body []byte) ([]adapters.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc struct {
		Data []adapters.Record `json:"data"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc.Data, nil
}

// runPollMap measures sidecar.Detect over a steady-state poll: every record was seen in
// the previous cycle (its hash is known, from a map filled as the sidecar's hash cache
// would be) except ~1% changed since. Each cycle changes a fresh 1% and encodes the poll's
// answer (not timed), collects garbage before each timed phase (not timed, so each starts
// from the same heap; a collection a phase's own allocations trigger is timed), runs the
// baseline — decoding the answer as the REST adapter does, then mapping each record in
// turn, without change detection — (timed), then Detect (timed, Mallocs counted), then
// records the new hashes (not timed). It reports the median times, their ratio (baseline
// over Detect) and Detect's mean allocations per record.
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
	var times, baseTimes []time.Duration
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
		body, err := pollBody(recs)
		if err != nil {
			return nil, err
		}

		// Baseline: decode, then map each record in turn; no hash, no comparison.
		runtime.GC()
		start := time.Now()
		brecs, err := decodePoll(body)
		if err != nil {
			return nil, err
		}
		mappedN := 0
		for _, rec := range brecs {
			if res, err := m.Map(rec); err == nil && !res.Filtered {
				mappedN++
			}
		}
		baseTimes = append(baseTimes, time.Since(start))
		if mappedN == 0 {
			return nil, fmt.Errorf("cycle %d: the baseline mapped no record", cycle)
		}

		// Measured: Detect (mapping on every core, change detection) over the records.
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start = time.Now()
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
	slices.Sort(baseTimes)
	med, baseMed := times[len(times)/2], baseTimes[len(baseTimes)/2]
	p.logf("poll-map: %d cycles of %d records (%d changed each): min %s, median %s, max %s; baseline median %s",
		len(times), len(recs), changed, times[0].Round(time.Microsecond), med.Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond),
		baseMed.Round(time.Microsecond))
	r := pollMapResult{
		Bench:              "poll-map",
		Records:            len(recs),
		MsPerCycle:         round(ms(med), 2),
		AllocsPerRecord:    round(float64(mallocs)/float64(len(times)*len(recs)), 1),
		BaselineMsPerCycle: round(ms(baseMed), 2),
		Target:             fmt.Sprintf("ms_per_cycle<=%d, ratio>=%g", pollMapTargetMs, float64(pollMapTargetRatio)),
	}
	r.Ratio = ratio(r.BaselineMsPerCycle, r.MsPerCycle)
	return r, nil
}
