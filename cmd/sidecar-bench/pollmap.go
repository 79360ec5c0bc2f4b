package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
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

// pollMapping is a 30-field mapping shaped like a real CAD's: paths (nested, into lists),
// lookups with defaults, constants, expressions, and a filter.
func pollMapping() mapping.Config {
	c := mapping.Config{
		IncidentID: "IncidentNumber",
		UserID:     "CallTaker.Id",
		Filter:     `Status != "CLOSED"`,
		Fields: []mapping.Field{
			{Name: "Address", Description: "Location", Expr: `Loc.Number + " " + Loc.Street`},
			{Name: "Phone", Description: "Callback", Expr: `digits(Caller.Phone)`},
			{Name: "Alarm", Description: "Alarm level", Expr: `Alarm >= 2 ? "multiple" : "single"`},
			{Name: "Units", Description: "Units", Expr: `len(Units)`},
			{Name: "Priority", Description: "Priority", From: "Pri", Lookup: map[string]string{"1": "High", "2": "Medium"}, Default: "Low"},
			{Name: "Status", Description: "Status", From: "Status", Lookup: map[string]string{"OPEN": "Open", "DISPATCHED": "Dispatched"}, Default: "Other"},
			{Name: "NatureCode", Description: "Nature", From: "Nature.Code"},
			{Name: "NatureText", Description: "Nature text", From: "Nature.Text"},
			{Name: "Unit", Description: "First unit", From: "Units[0].Id"},
			{Name: "UnitStatus", Description: "First unit status", From: "Units[0].Status", Default: "-"},
			{Name: "Lat", Description: "Latitude", From: "Loc.Lat"},
			{Name: "Lon", Description: "Longitude", From: "Loc.Lon"},
			{Name: "City", Description: "City", From: "Loc.City"},
			{Name: "Caller", Description: "Caller", From: "Caller.Name", Default: "unknown"},
			{Name: "Agency", Description: "Agency", Value: "Springfield PSAP"},
		},
	}
	for i := len(c.Fields); i < 30; i++ {
		k := "F" + strconv.Itoa(i)
		c.Fields = append(c.Fields, mapping.Field{Name: k, Description: "Field " + k, From: "Extra." + k, Default: "-"})
	}
	return c
}

// pollRecords builds n CAD records as one JSON poll answer and decodes it the way the REST
// adapter does (UseNumber), once.
func pollRecords(n int) ([]adapters.Record, error) {
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"IncidentNumber":%d,"Status":"OPEN","Pri":"%d","updated":%d,`+
			`"Nature":{"Code":"FIRE-STR","Text":"Structure fire"},"CallTaker":{"Id":"ct%03d"},`+
			`"Loc":{"Number":"%d","Street":"Main St","City":"Springfield","Lat":39.78172,"Lon":-89.65015},`+
			`"Caller":{"Name":"Alex Roe","Phone":"(217) 555-0142"},"Alarm":%d,`+
			`"Units":[{"Id":"E12","Status":"ENR"},{"Id":"L4","Status":"DISP"}],"Extra":{`,
			260000000+i, i%3+1, i, i%60, 100+i%40*100, i%3)
		for j := 15; j < 30; j++ {
			if j > 15 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"F%d":"value %d"`, j, i*j)
		}
		b.WriteString(`}}`)
	}
	b.WriteString(`]}`)
	dec := json.NewDecoder(bytes.NewReader([]byte(b.String())))
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
// would be) except ~1% changed since. Each cycle changes a fresh 1% (not timed), collects
// garbage (not timed, so every cycle starts from the same heap; a collection the cycle's
// own allocations trigger is timed), runs Detect (timed, Mallocs counted), then records the
// new hashes (not timed). It reports the median time and the mean allocations per record.
func runPollMap(ctx context.Context, p params) (result, error) {
	m, probs := mapping.Compile(pollMapping())
	if len(probs) > 0 {
		return nil, fmt.Errorf("mapping: %v", probs)
	}
	recs, err := pollRecords(p.PollRecords)
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
