package mapping

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// TestInputConfig: mapping.input becomes the decoders' options with documented defaults;
// bad values are problems naming the key.
func TestInputConfig(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "Id"})
	want := record.Options{Limits: record.Limits{MaxBytes: 16 << 20, MaxDepth: 64, MaxString: 1 << 20, MaxRecords: 100_000}}
	if got := m.Input(); got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	m = mustCompile(t, Config{IncidentID: "Id", Input: InputConfig{Encoding: "windows-1252", CSVDelimiter: "tab",
		MaxBytes: "64MB", MaxRecords: 250_000, MaxString: "2MiB", MaxDepth: 32}})
	want = record.Options{Encoding: "windows-1252", Delimiter: '\t', Limits: record.Limits{MaxBytes: 64e6, MaxDepth: 32, MaxString: 2 << 20, MaxRecords: 250_000}}
	if got := m.Input(); got != want {
		t.Errorf("set = %+v, want %+v", got, want)
	}
	if d := mustCompile(t, Config{IncidentID: "Id", Input: InputConfig{CSVDelimiter: ";"}}).Input().Delimiter; d != ';' {
		t.Errorf("delimiter %q", d)
	}
	_, probs := Compile(Config{IncidentID: "Id", Input: InputConfig{Encoding: "klingon", CSVDelimiter: ";;",
		MaxBytes: "lots", MaxRecords: -1, MaxString: "0", MaxDepth: -2}})
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Key)
	}
	if got := strings.Join(keys, ","); got != "input.encoding,input.csv_delimiter,input.max_bytes,input.max_string,input.max_records,input.max_depth" {
		t.Errorf("problems %v", probs)
	}
}
