package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// csv-map: a large CSV export (by default 100,000 rows of 30 columns, about 30 MB) read
// with record.EachCSV and every row mapped on every core (mapCSV), against encoding/csv
// reading the same file into [][]string. Both time and peak heap (sampled) are reported; the targets are
// absolute: at most 2 s, and a peak heap of at most 4× the file's size.

type csvMapResult struct {
	Bench          string  `json:"bench"`
	Rows           int     `json:"rows"`
	FileMB         float64 `json:"file_mb"`
	Ms             float64 `json:"ms"`
	CPUMs          float64 `json:"cpu_ms"` // user+system CPU of the process (every core) during the run
	PeakHeapMB     float64 `json:"peak_heap_mb"`
	MemRatio       float64 `json:"mem_ratio"` // peak heap / file size
	BaselineMs     float64 `json:"baseline_ms"`
	BaselineHeapMB float64 `json:"baseline_peak_heap_mb"`
	Ratio          float64 `json:"ratio"` // baseline time / measured time
	Target         string  `json:"target"`
	OK             bool    `json:"ok"`
}

const (
	csvMapTargetMs       = 2000
	csvMapTargetMemRatio = 4.0
	// csvMapTargetRatio is only for -floor: mapping every row costs several times the bare
	// encoding/csv read.
	csvMapTargetRatio = 0.1
)

func (csvMapResult) failed() error { return nil }

func (r csvMapResult) key() float64 { return r.Ms }

func (r csvMapResult) ratios() (got, target float64) { return r.Ratio, csvMapTargetRatio }

func (r csvMapResult) judge() result {
	r.OK = r.Ms <= csvMapTargetMs && r.MemRatio <= csvMapTargetMemRatio
	return r
}

// csvColumns are the export's 30 columns.
var csvColumns = func() []string {
	cols := []string{"IncidentNumber", "Agency", "CallType", "Priority", "Status", "Opened", "Address", "City",
		"State", "Zip", "Latitude", "Longitude", "CallerPhone", "Beat", "District", "Unit", "Disposition", "Remarks"}
	for i := len(cols); i < 30; i++ {
		cols = append(cols, "Extra"+strconv.Itoa(i))
	}
	return cols
}()

// csvMapping maps 12 of the columns, with the sources and transforms a real mapping uses.
func csvMapping() mapping.Config {
	return mapping.Config{
		IncidentID: "IncidentNumber",
		Timezone:   "America/Chicago",
		Filter:     `Status != "CLOSED"`,
		Fields: []mapping.Field{
			{Name: "Agency", From: "Agency"},
			{Name: "CallType", From: "CallType", Required: true},
			{Name: "Priority", From: "Priority", Lookup: map[string]string{"1": "High", "2": "Medium"}, Default: "Low"},
			{Name: "Opened", Expr: `format_time(parse_time(Opened))`},
			{Name: "Address", Template: `{{.Address}}, {{.City}} {{.State}} {{.Zip}}`},
			{Name: "Lat", From: "Latitude"},
			{Name: "Lon", From: "Longitude"},
			{Name: "Phone", Expr: `digits(CallerPhone)`},
			{Name: "Beat", From: "Beat", OmitEmpty: true},
			{Name: "Unit", From: "Unit", Trim: true},
			{Name: "Disposition", From: "Disposition", OmitEmpty: true},
			{Name: "Remarks", From: "Remarks", MaxLength: 60},
		},
	}
}

// writeCSVExport writes rows data rows (windows-style CRLF, a few quoted fields with
// commas and line breaks, Spanish names) and returns the file's size.
func writeCSVExport(file string, rows int) (int64, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(strings.Join(csvColumns, ",") + "\r\n")
	streets := []string{"Calle Niño", "Avenida Peñuelas", "Main St", "Oak Ave", "Calle Acuña"}
	types := []string{"MEDICAL", "FIRE", "TRAFFIC", "ALARM"}
	for i := range rows {
		day := 1 + i%28
		h := 1 + i%12
		ampm := "AM"
		if i%2 == 1 {
			ampm = "PM"
		}
		status := "OPEN"
		if i%10 == 0 {
			status = "CLOSED"
		}
		remarks := "Caller reports " + types[i%len(types)] + " near " + streets[i%len(streets)]
		if i%7 == 0 {
			remarks = `"Caller says ""help"", two people,` + "\r\n" + `second floor"`
		}
		fields := []string{
			"26-" + strconv.Itoa(100000+i), "FD", types[i%len(types)], strconv.Itoa(1 + i%3), status,
			fmt.Sprintf("1/%d/2026 %d:%02d:%02d %s", day, h, i%60, (i*7)%60, ampm),
			strconv.Itoa(100+i%9000) + " " + streets[i%len(streets)], "San Juan", "PR", "00901",
			"18.4655" + strconv.Itoa(i%10), "-66.1057" + strconv.Itoa(i%10), "(787) 555-" + fmt.Sprintf("%04d", i%10000),
			"B" + strconv.Itoa(i%20), "D" + strconv.Itoa(i%5), " E" + strconv.Itoa(i%50) + " ", "", remarks,
		}
		for j := len(fields); j < len(csvColumns); j++ {
			fields = append(fields, fmt.Sprintf("extra-%05d", (i+j)%100000))
		}
		w.WriteString(strings.Join(fields, ",") + "\r\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}

// mapCSV reads the export with record.EachCSV and maps its rows in batches of 512 on
// every core (as sidecar.Detect maps a poll), the reader running ahead by a few batches:
// memory is bounded by the batches in flight, not the file.
func mapCSV(f *os.File, opts record.Options, m *mapping.Mapper) (mapped, filtered, fieldsOut int, err error) {
	const batchSize = 512
	workers := runtime.GOMAXPROCS(0)
	batches := make(chan []adapters.Record, 2*workers)
	type tally struct {
		mapped, filtered, fields int
		err                      error
	}
	results := make(chan tally, workers)
	for range workers {
		go func() {
			var t tally
			for b := range batches {
				for _, rec := range b {
					if t.err != nil {
						break // drain the channel so the reader never blocks
					}
					res, err := m.Map(rec)
					switch {
					case err != nil:
						t.err = err
					case res.Filtered:
						t.filtered++
					default:
						t.mapped++
						t.fields += len(res.Request.Fields)
					}
				}
			}
			results <- t
		}()
	}
	batch := make([]adapters.Record, 0, batchSize)
	readErr := record.EachCSV(f, opts, func(_ int, rec adapters.Record) error {
		batch = append(batch, rec)
		if len(batch) == batchSize {
			batches <- batch
			batch = make([]adapters.Record, 0, batchSize)
		}
		return nil
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	for range workers {
		t := <-results
		mapped, filtered, fieldsOut = mapped+t.mapped, filtered+t.filtered, fieldsOut+t.fields
		if err == nil {
			err = t.err
		}
	}
	if readErr != nil {
		err = readErr
	}
	return mapped, filtered, fieldsOut, err
}

// heapSampler records the peak of the live heap (runtime/metrics, heap objects) while it
// runs; stop ends its goroutine and returns the peak in bytes.
func heapSampler() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak {
			peak = v
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return sync.OnceValue(func() uint64 {
		close(done)
		wg.Wait()
		read()
		return peak
	})
}

func runCSVMap(ctx context.Context, p params) (result, error) {
	m, probs := mapping.Compile(csvMapping())
	if len(probs) > 0 {
		return nil, fmt.Errorf("mapping: %v", probs)
	}
	file := filepath.Join(p.Dir, "csv-map-export.csv")
	defer os.Remove(file)
	size, err := writeCSVExport(file, p.CSVRows)
	if err != nil {
		return nil, fmt.Errorf("write the export: %w", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	opts := record.Options{Limits: record.Limits{MaxBytes: max(size+1, 16<<20), MaxRecords: p.CSVRows}}

	// Baseline: encoding/csv reads the whole file into [][]string.
	runtime.GC()
	stopHeap := heapSampler()
	start := time.Now()
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bufio.NewReaderSize(f, 64<<10)).ReadAll()
	f.Close()
	baseEl := time.Since(start)
	basePeak := stopHeap()
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if len(rows) != p.CSVRows+1 {
		return nil, fmt.Errorf("baseline: %d rows, want %d", len(rows)-1, p.CSVRows)
	}
	rows = nil //nolint:ineffassign // let the collector have them before the measured run

	// Measured: record.EachCSV → Mapper.Map for every row.
	stopProf := p.profile("csv-map")
	runtime.GC()
	stopHeap = heapSampler()
	cpu0 := cpuTime()
	start = time.Now()
	f, err = os.Open(file)
	if err != nil {
		stopProf()
		return nil, err
	}
	mapped, filtered, fieldsOut, err := mapCSV(f, opts, m)
	f.Close()
	el := time.Since(start)
	cpuEl := cpuTime() - cpu0
	peak := stopHeap()
	stopProf()
	if err != nil {
		return nil, fmt.Errorf("csv-map: %w", err)
	}
	if mapped+filtered != p.CSVRows || mapped == 0 {
		return nil, fmt.Errorf("csv-map: %d mapped + %d filtered, want %d rows", mapped, filtered, p.CSVRows)
	}
	p.logf("csv-map: %d rows (%.1f MB): %s (CPU %s), peak heap %.1f MB (%d mapped, %d filtered, %d fields); baseline encoding/csv ReadAll %s, peak heap %.1f MB",
		p.CSVRows, float64(size)/1e6, el.Round(time.Millisecond), cpuEl.Round(time.Millisecond), float64(peak)/1e6, mapped, filtered, fieldsOut,
		baseEl.Round(time.Millisecond), float64(basePeak)/1e6)
	r := csvMapResult{
		Bench:          "csv-map",
		Rows:           p.CSVRows,
		FileMB:         round(float64(size)/1e6, 1),
		Ms:             round(ms(el), 1),
		CPUMs:          round(ms(cpuEl), 1),
		PeakHeapMB:     round(float64(peak)/1e6, 1),
		MemRatio:       round(float64(peak)/float64(size), 2),
		BaselineMs:     round(ms(baseEl), 1),
		BaselineHeapMB: round(float64(basePeak)/1e6, 1),
		Target:         fmt.Sprintf("ms<=%d, mem_ratio<=%g", csvMapTargetMs, csvMapTargetMemRatio),
	}
	r.Ratio = ratio(r.BaselineMs, r.Ms)
	return r, nil
}
