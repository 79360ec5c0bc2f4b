package sidecar_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// testerMapping has a filter and a required field, so that one record of each outcome
// can be tried.
const testerMapping = `
mapping:
  incident_id: IncidentNumber
  filter: 'Status != "CLOSED"'
  fields:
    - {name: Nature, from: Nature.Code, required: true, lookup: {FIRE: "Structure fire"}}
    - {name: Street, from: Loc.Street, trim: true}
  note: {text: "{{.Note}}"}
`

// POST /api/v1/map maps one record with the mapping in use and explains it; the record,
// which holds caller data, is never logged.
func TestAdminAPIMap(t *testing.T) {
	e := start(t, envOptions{mapping: testerMapping})
	const street = "Secret-Caller-Street"
	for _, c := range []struct {
		name, body string
		code       int
		outcome    string
		check      func(t *testing.T, a sidecar.MapAnswer)
		msg        string
	}{
		{name: "a good record", code: 200, outcome: "mapped",
			body: `{"record":{"IncidentNumber":260045,"Status":"OPEN","Nature":{"Code":"FIRE"},"Loc":{"Street":"  ` + street + ` "}}}`,
			check: func(t *testing.T, a sidecar.MapAnswer) {
				if a.Request == nil || a.Request.IncidentID != "260045" || len(a.Request.Fields) != 2 ||
					a.Request.Fields[0].Value != "Structure fire" || a.Request.Fields[1].Value != street {
					t.Fatalf("request %+v", a.Request)
				}
				byField := map[string]sidecar.ExplainEntry{}
				for _, x := range a.Explain {
					byField[x.Field] = x
				}
				f, n := byField["filter"], byField["Nature"]
				if f.Value == nil || *f.Value != "true" || n.Raw == nil || *n.Raw != "FIRE" ||
					len(n.Steps) != 1 || n.Steps[0].Transform != "lookup" || n.Steps[0].Value != "Structure fire" ||
					n.Value == nil || *n.Value != "Structure fire" || n.Source != `from "Nature.Code"` {
					t.Fatalf("explain %+v", a.Explain)
				}
			}},
		{name: "the same record as XML text", code: 200, outcome: "mapped",
			body: `{"text":"<Incident><IncidentNumber>7</IncidentNumber><Status>OPEN</Status><Nature><Code>EMS</Code></Nature></Incident>"}`,
			check: func(t *testing.T, a sidecar.MapAnswer) {
				if a.Request == nil || a.Request.IncidentID != "7" || a.Request.Fields[0].Value != "EMS" {
					t.Fatalf("request %+v", a.Request)
				}
			}},
		// A CSV row is flat: it has no Nature.Code, and the required field fails.
		{name: "CSV text", code: 200, outcome: "failed", body: `{"format":"csv","text":"IncidentNumber,Status\n8,OPEN\n"}`,
			check: func(t *testing.T, a sidecar.MapAnswer) {
				if id := a.Explain[1]; id.Field != "incident_id" || id.Value == nil || *id.Value != "8" {
					t.Fatalf("explain %+v", a.Explain)
				}
			}},
		{name: "a filtered record", code: 200, outcome: "filtered",
			body: `{"record":{"IncidentNumber":1,"Status":"CLOSED","Nature":{"Code":"FIRE"}}}`,
			check: func(t *testing.T, a sidecar.MapAnswer) {
				if a.Request != nil || !strings.Contains(a.Reason, "CLOSED") || a.Error != "" {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "a failing record", code: 200, outcome: "failed",
			body: `{"record":{"IncidentNumber":2,"Status":"OPEN","Loc":{"Street":"` + street + `"}}}`,
			check: func(t *testing.T, a sidecar.MapAnswer) {
				if a.Request != nil || !strings.Contains(a.Error, "Nature") {
					t.Fatalf("%+v", a)
				}
				for _, x := range a.Explain {
					if x.Field == "Nature" && (x.Raw != nil || x.Value != nil || x.Error == "") {
						t.Fatalf("Nature explained %+v", x)
					}
				}
			}},
		{name: "bad JSON", body: `{"record":`, code: 400, msg: "bad request body"},
		{name: "an unknown key", body: `{"recrod":{}}`, code: 400, msg: `unknown field "recrod"`},
		{name: "no record", body: `{}`, code: 400, msg: "no record"},
		{name: "record not an object", body: `{"record":[1]}`, code: 400, msg: "must be a JSON object"},
		{name: "two records", body: `{"text":"[{\"IncidentNumber\":1},{\"IncidentNumber\":2}]"}`, code: 400, msg: "holds 2 records: paste one"},
		{name: "bad XML", body: `{"text":"<Incident><a></Incident>"}`, code: 400, msg: "not valid XML"},
		{name: "CSV not told", body: `{"text":"a,b\n1,2\n"}`, code: 400, msg: "cannot tell the format"},
		{name: "an unknown format", body: `{"text":"x","format":"yaml"}`, code: 400, msg: `unknown format "yaml"`},
		{name: "an oversized body", body: `{"text":"` + strings.Repeat("x", 2<<20) + `"}`, code: 413, msg: "larger than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.api(t, "POST", "/api/v1/map", c.body, nil)
			if code != c.code {
				t.Fatalf("%d %s; want %d", code, body, c.code)
			}
			if c.code != 200 {
				var ae sidecar.APIError
				if err := json.Unmarshal([]byte(body), &ae); err != nil || !strings.Contains(ae.Error, c.msg) {
					t.Fatalf("error %q; want it to say %q", body, c.msg)
				}
				return
			}
			var a sidecar.MapAnswer
			if err := json.Unmarshal([]byte(body), &a); err != nil {
				t.Fatal(err)
			}
			if a.Outcome != c.outcome {
				t.Fatalf("outcome %q; want %q (%s)", a.Outcome, c.outcome, body)
			}
			if c.check != nil {
				c.check(t, a)
			}
		})
	}
	if strings.Contains(e.logs.String(), street) {
		t.Fatalf("the record's content is in the log:\n%s", e.logs.String())
	}
	if code, _ := e.api(t, "GET", "/api/v1/map", "", nil); code != http.StatusMethodNotAllowed && code != http.StatusNotFound {
		t.Fatalf("GET /api/v1/map: %d", code)
	}
}
