package examples_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/eido"     // cad.adapter: eido in examples/eido
	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop" // cad.adapter: filedrop in the example configs
	_ "github.com/cad-sidecar/cad-sidecar/adapters/push"     // cad.adapter: push in examples/push
	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest"     // cad.adapter: rest in the example configs
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/record"
)

var update = flag.Bool("update", false, "rewrite each expected.json from the mapping's output (a deliberate change of the specification: review the diff by hand)")

// TestExamples maps each example's record with its config's mapping section and compares
// the LinkIncidentRequest with expected.json. The expected files are a specification,
// checked by hand against the record and the config (see README.md): the comparison is of
// the whole JSON document, so a key the request does not have is a difference too.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("*/config.yaml")
	if err != nil || len(dirs) < 4 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		t.Run(dir, func(t *testing.T) {
			m, err := config.LoadMapping(cfg)
			if err != nil {
				t.Fatalf("LoadMapping: %v", err)
			}
			recFile := recordFile(t, dir)
			rec := decode(t, recFile)
			res, err := m.Map(rec)
			if err != nil || res.Filtered {
				t.Fatalf("Map = %+v, %v", res, err)
			}
			got, _ := json.MarshalIndent(res.Request, "", "  ")
			got = append(got, '\n')
			exp := filepath.Join(dir, "expected.json")
			if *update {
				if old, _ := os.ReadFile(exp); !bytes.Equal(old, got) {
					t.Logf("-update: rewrote %s; review the change by hand (git diff) before committing it", exp)
				}
				if err := os.WriteFile(exp, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			var want, have any
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("%s: %v", exp, err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(have, want) {
				t.Errorf("the mapping's request differs from %s\ngot:\n%s\nwant:\n%s", exp, got, data)
			}

			// The mapping also type-checks against its record as mapping.sample.
			raw, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Mapping mapping.Config `yaml:"mapping"`
			}
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			doc.Mapping.Sample = filepath.Base(recFile)
			if _, probs := mapping.CompileWith(doc.Mapping, mapping.Options{Dir: dir}); len(probs) > 0 {
				t.Errorf("with sample %s: %q", recFile, probs)
			}
		})
	}
}

// TestExamplesHandChecked holds the values of expected.json that were derived by hand
// from the record and the config (README.md says how), so that `-update` cannot change
// them unnoticed: a mapping change that moves one fails here even after -update.
func TestExamplesHandChecked(t *testing.T) {
	tests := map[string]map[string]string{
		"rest": {
			"incidentId": "260045123", "userId": "ct-042", // a JSON number; trim
			"Nature":      "Structure fire",                           // trim
			"Priority":    "High",                                     // lookup "1"
			"Opened":      "2026-03-01T20:05:33Z",                     // 14:05:33 America/Chicago, CST (UTC-6) before DST on 8 March
			"Phone":       "2175550142",                               // digits of "(217) 555-0142"
			"Units":       "E12, L4",                                  // join(map(Units, .Id))
			"Remarks":     "Smoke showing from the second floor, cal", // max_length 40
			"CrossStreet": "(absent)",                                 // omit_empty of ""
		},
		"sql-view": {
			"incidentId": "SPFD-2026-000481", "userId": "CT042",
			"Priority":    "Emergency",                   // the integer 1 looked up as "1"
			"Received":    "2026-03-01T19:05:33Z",        // 14:05:33 America/New_York, EST (UTC-5)
			"Address":     "1200 N MAIN ST, SPRINGFIELD", // APT null dropped
			"Latitude":    "39.781720",                   // the decimal as written, trailing zero kept
			"Longitude":   "-89.650150",
			"Phone":       "2175550142",                                                   // last ten digits of "+1 (217) 555-0142"
			"Disposition": "(absent)",                                                     // null, omit_empty
			"Narrative":   "2 VEH, 1 ROLLED OVER ON ITS SIDE, DRIVER TRAPPED, FUEL LEAKI", // trim, then 60 characters
		},
		"hexagon-xml": {
			"incidentId": "26-000123", "userId": "ct-117", // cad: prefix dropped; @id attribute
			"Type": "STRUC", "TypeText": "Structure Fire", "Priority": "P1",
			"Created":         "2026-03-18T13:58:42Z", // 09:58:42 America/Toronto, EDT (UTC-4) after 8 March
			"Address":         "1200 Avenue Ste-Thérèse, Gatineau",
			"Units":           "E12 L4 BC1",
			"FirstUnitStatus": "ENR",
			"Phone":           "5550104477",
			"Remarks":         "Smoke showing, 2nd floor / Caller & family outside",
		},
		"sql-hexagon": {
			"incidentId": "GFD26000123", "userId": "CT117", // cpers trimmed
			"Type":     "STRUC/RES",            // tycod + "/" + sub_tycod
			"Priority": "P1 Emergency",         // the integer 1 looked up as "1"
			"Created":  "2026-03-05T14:58:42Z", // DTS 20260305095842(ES) America/Toronto, EST (UTC-5) before 8 March
			"Address":  "1200 N MAIN ST, OTTAWA",
			"Caller":   "TREMBLAY, MARIE", // trim
			"Phone":    "6135550147",      // digits of "(613) 555-0147"
			"Agency":   "GFD / FD1",
			"Comments": "SMOKE SHOWING 2ND FLOOR / CALLER AND FAMILY OUTSIDE", // the view's string_agg, 51 characters
		},
		"push": {
			"incidentId": "F26-004512", "userId": "jsmith", // lower() of the CAD login
			"Priority": "Urgent",               // the integer 2 looked up as "2"
			"Created":  "2026-04-11T14:03:51Z", // 09:03:51-05:00: the offset is the record's own
			"Address":  "415 E Monroe St, Springfield",
			"Phone":    "2175550199", // digits of "217.555.0199"
			"Units":    "M7 E3",      // join(map(Units, .Id), " "), in the message's order
		},
		"rest-paged-oauth2": {
			"incidentId": "F26-0001234", "userId": "jsmith", // lower() of the CAD login
			"Priority": "Emergency",            // the number 1 looked up as "1"
			"Received": "2026-05-14T16:19:47Z", // 11:19:47-05:00: the offset is the record's own
			"Address":  "415 E Monroe St, Springfield",
			"Phone":    "2175550163", // last ten digits of "+1 217-555-0163"
			"Units":    "M7 E3",
		},
		"filedrop": {
			"incidentId": "MFD-2026-004512", "userId": "D17",
			"CallType": "MVA-PI", "Priority": "Medium", // the number 2 looked up as "2"
			"Received": "2026-12-01T05:47:05Z", // 22:47:05 America/Denver on 30 November, MST (UTC-7)
			"Address":  "455 OAK RIDGE RD, MAPLETON",
			"Phone":    "8015550199", // digits of "(801) 555-0199"
			"Units":    "M7, E3",
		},
		"eido": {
			"incidentId": "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us",
			"userId":     "tjones.atroop@state.pa.us",
			"CallStart":  "2021-04-30T18:40:00Z", // 14:40:00.0-04:00
			"Address":    "42 W Cellular Street", // HNO PRD RD STS of the PIDF-LO civic address
			"City":       "Wilmington", "State": "DE", "LocationMethod": "Manual",
			"CallbackPhone": "8195551212", // the tel: URI, not the sip: one
			"Agency":        "state.pa.us",
		},
	}
	for dir, want := range tests {
		t.Run(dir, func(t *testing.T) {
			m, err := config.LoadMapping(filepath.Join(dir, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Map(decode(t, recordFile(t, dir)))
			if err != nil || res.Filtered {
				t.Fatalf("Map = %+v, %v", res, err)
			}
			got := map[string]string{"incidentId": res.Request.IncidentID, "userId": res.Request.UserID}
			for _, f := range res.Request.Fields {
				got[f.Name] = f.Value
			}
			for k, v := range want {
				g, ok := got[k]
				if !ok {
					g = "(absent)"
				}
				if g != v {
					t.Errorf("%s: %s = %q, want %q", dir, k, g, v)
				}
			}
		})
	}
}

func recordFile(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "record.*"))
	if len(files) != 1 {
		t.Fatalf("%s: record files %q", dir, files)
	}
	return files[0]
}

func decode(t testing.TB, file string) map[string]any {
	t.Helper()
	f, ok := record.FormatFromName(file)
	if !ok {
		t.Fatalf("%s: unknown format", file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := record.Decode(f, bytes.NewReader(data), record.Limits{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%s: %d records, %v", file, len(recs), err)
	}
	return recs[0]
}

// TestExampleConfigsAreValid loads each example config whole, as `cad-sidecar validate`
// does.
func TestExampleConfigsAreValid(t *testing.T) {
	dirs, _ := filepath.Glob("*/config.yaml")
	for _, cfg := range dirs {
		if _, err := config.Load(cfg, config.Options{Environ: []string{}}); err != nil {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}

// TestHexagonUnitsAndRemarks: in XML a repeated element is a list only when it repeats. A
// new incident has one unit or none, and one remark: the mapping must still link it, with
// the same values a list would give.
func TestHexagonUnitsAndRemarks(t *testing.T) {
	m, err := config.LoadMapping("hexagon-xml/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile("hexagon-xml/record.xml")
	if err != nil {
		t.Fatal(err)
	}
	const (
		l4      = `<cad:Unit id="L4"><cad:Status>DISP</cad:Status></cad:Unit>`
		bc1     = `<cad:Unit id="BC1"><cad:Status>DISP</cad:Status></cad:Unit>`
		e12     = `<cad:Unit id="E12"><cad:Status>ENR</cad:Status></cad:Unit>`
		remark2 = `<cad:Remark at="10:00:02">Caller &amp; family outside</cad:Remark>`
	)
	edit := func(pairs ...string) []byte {
		return []byte(strings.NewReplacer(pairs...).Replace(string(full)))
	}
	tests := []struct {
		name string
		xml  []byte
		want map[string]string
	}{
		{"one unit, one remark", edit(l4, "", bc1, "", remark2, ""),
			map[string]string{"Units": "E12", "FirstUnitStatus": "ENR", "Remarks": "Smoke showing, 2nd floor"}},
		{"no unit yet", edit(l4, "", bc1, "", e12, ""),
			map[string]string{"Units": "", "FirstUnitStatus": ""}},
		{"no Units element", edit(l4, "", bc1, "", e12, "", "<cad:Units>", "", "</cad:Units>", ""),
			map[string]string{"Units": "", "FirstUnitStatus": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := record.DecodeXML(tt.xml, record.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Map(rec)
			if err != nil || res.Filtered {
				t.Fatalf("Map = %+v, %v", res, err)
			}
			got := map[string]string{}
			for _, f := range res.Request.Fields {
				got[f.Name] = f.Value
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestEIDOReorderedComponents: the EIDO example follows the document's references, so the
// same incident with its components in another order — and a decoy first in each list —
// maps to the same expected.json.
func TestEIDOReorderedComponents(t *testing.T) {
	m, err := config.LoadMapping("eido/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Map(decode(t, "eido/testdata/record_reordered.json"))
	if err != nil || res.Filtered {
		t.Fatalf("Map = %+v, %v", res, err)
	}
	data, err := os.ReadFile("eido/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	got, _ := json.Marshal(res.Request)
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("reordered components map differently\ngot:  %s\nwant: %s", got, data)
	}
	// Taking [0] gives the decoys: the fixture does test the order.
	first := decode(t, "eido/testdata/record_reordered.json")
	if loc := first["locationComponent"].([]any)[0].(map[string]any)["locationByValue"].(string); !strings.Contains(loc, "Newark") {
		t.Fatalf("fixture: locationComponent[0] is not the decoy")
	}
}
