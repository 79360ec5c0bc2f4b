package mapping

import (
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// benchSetup builds n JSON-decoded records and a 30-field mapping shaped like a real CAD's:
// mostly paths (some nested, some into lists), lookups, three expressions and a filter.
func benchSetup(b *testing.B, n int) (*Mapper, []adapters.Record) {
	b.Helper()
	c := Config{
		IncidentID: "IncidentNumber",
		UserID:     "CallTaker.Id",
		Filter:     `Status != "CLOSED"`,
		Fields: []Field{
			{Name: "Address", Description: "Location", Expr: `Loc.Number + " " + Loc.Street`},
			{Name: "Phone", Description: "Callback", Expr: `digits(Caller.Phone)`},
			{Name: "Alarm", Description: "Alarm", Expr: `Alarm >= 2 ? "multiple" : "single"`},
			{Name: "Priority", Description: "Priority", From: "Pri", Lookup: map[string]string{"1": "High", "2": "Medium"}, Default: "Low"},
			{Name: "NatureCode", Description: "Nature", From: "Nature.Code"},
			{Name: "NatureText", Description: "Nature text", From: "Nature.Text"},
			{Name: "Unit", Description: "First unit", From: "Units[0].Id"},
			{Name: "Lat", Description: "Latitude", From: "Loc.Lat"},
			{Name: "Lon", Description: "Longitude", From: "Loc.Lon"},
			{Name: "City", Description: "City", From: "Loc.City"},
			{Name: "Agency", Description: "Agency", Value: "Springfield PSAP"},
		},
	}
	for i := len(c.Fields); i < 30; i++ {
		k := "F" + strconv.Itoa(i)
		c.Fields = append(c.Fields, Field{Name: k, Description: "Field " + k, From: "Extra." + k, Default: "-"})
	}
	m := mustCompile(b, c)

	recs := make([]adapters.Record, n)
	for i := range recs {
		body := `{"IncidentNumber": ` + strconv.Itoa(260000000+i) + `, "Status": "OPEN", "Pri": "` + strconv.Itoa(i%3+1) + `",
			"Nature": {"Code": "FIRE-STR", "Text": "Structure fire"}, "CallTaker": {"Id": "ct-042"},
			"Loc": {"Number": "1200", "Street": "Main St", "City": "Springfield", "Lat": 39.78172, "Lon": -89.65015},
			"Caller": {"Name": "Alex Roe", "Phone": "(217) 555-0142"}, "Alarm": 2,
			"Units": [{"Id": "E12", "Status": "ENR"}, {"Id": "L4", "Status": "DISP"}], "Extra": {`
		for j := 11; j < 30; j++ {
			if j > 11 {
				body += ","
			}
			body += `"F` + strconv.Itoa(j) + `": "value ` + strconv.Itoa(i*j) + `"`
		}
		body += `}}`
		recs[i] = decodeRecord(b, []byte(body))
	}
	return m, recs
}

// BenchmarkMapAndHash maps and hashes 10,000 records of 30 fields per op (target: ≤ 50 ms
// per op on 2 cores; this runs on one goroutine).
func BenchmarkMapAndHash(b *testing.B) {
	m, recs := benchSetup(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		for _, rec := range recs {
			res, err := m.Map(rec)
			if err != nil || res.Filtered {
				b.Fatal(err, res.Reason)
			}
			_ = Hash(res.Request)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k")
}

// BenchmarkMapAndHashParallel is BenchmarkMapAndHash spread over GOMAXPROCS goroutines, the
// way a sidecar maps a large poll batch on all its cores.
func BenchmarkMapAndHashParallel(b *testing.B) {
	m, recs := benchSetup(b, 10_000)
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(recs); i += workers {
					res, err := m.Map(recs[i])
					if err != nil || res.Filtered {
						b.Error(err, res.Reason)
						return
					}
					_ = Hash(res.Request)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k")
}
