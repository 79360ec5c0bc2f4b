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

	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest" // cad.adapter: rest in the example configs
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/record"
)

var update = flag.Bool("update", false, "rewrite each expected.json from the mapping's output")

// TestExamples maps each example's record with its config's mapping section and compares
// the LinkIncidentRequest with expected.json.
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
				if err := os.WriteFile(exp, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			var want assist.LinkIncidentRequest
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Request, want) {
				t.Errorf("request mismatch\ngot:\n%s\nwant:\n%s", got, data)
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
