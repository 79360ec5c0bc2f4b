package record

import (
	"errors"
	"strings"
	"testing"
)

func TestFormatFromName(t *testing.T) {
	tests := []struct {
		name string
		want Format
		ok   bool
	}{
		{"in/incident.json", JSON, true},
		{"EXPORT.XML", XML, true},
		{"rows.Csv", CSV, true},
		{"a.json.txt", "", false},
		{"json", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got, ok := FormatFromName(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("FormatFromName(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		in   string
		want string
	}{
		{"unknown format", "yaml", "a: 1", `record: unknown format "yaml" (want json, xml or csv)`},
		{"json too large", JSON, `{"a":"SECRET"}`, "record: json: input too large: more than 4 bytes (mapping.input.max_bytes)"},
		{"xml too large", XML, `<r>SECRET</r>`, "record: xml: input too large: more than 4 bytes (mapping.input.max_bytes)"},
		{"csv too large", CSV, "a\nSECRET\n", "record: csv: input too large: more than 4 bytes (mapping.input.max_bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.f, strings.NewReader(tt.in), Limits{MaxBytes: 4})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	for _, f := range []Format{JSON, XML, CSV} {
		_, err := Decode(f, failingReader{}, Limits{})
		if want := "record: " + string(f) + ": disk on fire"; err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", f, err, want)
		}
	}
}

func TestDecodeXMLReturnsOneRecord(t *testing.T) {
	recs, err := Decode(XML, strings.NewReader(`<r><a>1</a></r>`), Limits{})
	if err != nil || len(recs) != 1 || recs[0]["a"] != "1" {
		t.Errorf("got %v, %v", recs, err)
	}
}
