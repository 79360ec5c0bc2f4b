package mapping_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

func Example() {
	m, problems := mapping.Compile(mapping.Config{
		IncidentID: "IncidentNumber",
		UserID:     "CallTaker.Id",
		Filter:     `Status != "CLOSED"`,
		Fields: []mapping.Field{
			{Name: "NatureCode", Description: "Nature", From: "Nature.Code"},
			{Name: "Address", Description: "Location", Expr: `str(Loc.Number) + " " + Loc.Street`},
			{Name: "Priority", Description: "Priority", From: "Pri", Lookup: map[string]string{"1": "High", "2": "Medium"}, Default: "Low"},
		},
	})
	if len(problems) > 0 {
		fmt.Println(problems)
		return
	}

	for _, body := range []string{
		`{"IncidentNumber": 260045123, "Status": "OPEN", "Pri": "1", "CallTaker": {"Id": "ct-042"},
		  "Nature": {"Code": "FIRE-STR"}, "Loc": {"Number": 1200, "Street": "Main St"}}`,
		`{"IncidentNumber": 260045124, "Status": "CLOSED"}`,
	} {
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		var rec adapters.Record
		if err := dec.Decode(&rec); err != nil {
			panic(err)
		}
		res, err := m.Map(rec)
		switch {
		case err != nil:
			fmt.Println("error:", err)
		case res.Filtered:
			fmt.Println("filtered:", res.Reason)
		default:
			out, _ := json.Marshal(res.Request)
			fmt.Println(string(out))
		}
	}
	// Output:
	// {"incidentId":"260045123","userId":"ct-042","fields":[{"name":"NatureCode","description":"Nature","value":"FIRE-STR"},{"name":"Address","description":"Location","value":"1200 Main St"},{"name":"Priority","description":"Priority","value":"High"}]}
	// filtered: filter Status != "CLOSED" is false
}

func ExampleCompile_problems() {
	_, problems := mapping.Compile(mapping.Config{
		Fields: []mapping.Field{
			{Name: "Address", Expr: `Loc.Number +`},
			{Name: "Priority", From: "Pri", Value: "1"},
		},
		Note: mapping.NoteConfig{Text: "{{.Nte}}"},
	})
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// incident_id: is required: the path of the incident number in the record, e.g. "IncidentNumber"
	// fields[0].expr: cannot compile "Loc.Number +": unexpected token EOF (line 1, column 12)
	// fields[1]: exactly one of from, expr, value, template is required (got from "Pri" and value "1")
	// note.text: cannot render "{{.Nte}}": note.text:1:2: executing "note.text" at <.Nte>: can't evaluate field Nte in type mapping.NoteData (data: .IncidentID .CallID .UserID .Type .Label .Note .Critical .CriticalMarker .CreatedAt .Time)
}
