// Package benchdata is the workload of the sidecar's benchmarks — a CAD poll of n records
// of 30 fields and the mapping for it — shared by cmd/sidecar-bench and the testing.B
// benchmarks, so both measure the same thing.
package benchdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// PollMapping is a 30-field mapping shaped like a real CAD's: paths (nested, into lists),
// lookups with defaults, constants, expressions, and a filter.
func PollMapping() mapping.Config {
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

// PollRecords builds n CAD records as one JSON poll answer and decodes it the way the REST
// adapter does (UseNumber), once.
func PollRecords(n int) ([]adapters.Record, error) {
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
