package record

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDecodeXMLNil: an element with xsi:nil="true" (any prefix bound to the XML Schema
// instance namespace) is nil, not {"@nil":"true"}.
func TestDecodeXMLNil(t *testing.T) {
	const xsi = `xmlns:i="http://www.w3.org/2001/XMLSchema-instance"`
	for _, tc := range []struct {
		name, doc string
		want      Record
	}{
		{"self-closing", `<r ` + xsi + `><a i:nil="true"/><b>x</b></r>`, Record{"a": nil, "b": "x"}},
		{"open and close", `<r ` + xsi + `><a i:nil="true"></a></r>`, Record{"a": nil}},
		{"value 1", `<r ` + xsi + `><a i:nil="1"/></r>`, Record{"a": nil}},
		{"other attributes dropped", `<r ` + xsi + `><a i:nil="true" i:type="string" unit="m"/></r>`, Record{"a": nil}},
		{"nil false keeps the text", `<r ` + xsi + `><a i:nil="false">7</a></r>`, Record{"a": "7"}},
		{"xsi prefix", `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a xsi:nil="true"/></r>`, Record{"a": nil}},
		{"nested element", `<r ` + xsi + `><L i:nil="true"><x>1</x></L></r>`, Record{"L": nil}},
		{"in a list", `<r ` + xsi + `><a>1</a><a i:nil="true"/><a>3</a></r>`, Record{"a": []any{"1", nil, "3"}}},
		{"other namespace is an attribute", `<r xmlns:q="urn:q"><a q:nil="true"/></r>`, Record{"a": map[string]any{"@nil": "true"}}},
		{"nil root", `<r ` + xsi + ` i:nil="true"/>`, Record{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeXML([]byte(tc.doc), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestDecodeXMLDotNetExport decodes a .NET DataContractSerializer export whose empty
// values are i:nil elements.
func TestDecodeXMLDotNetExport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "dotnet_calls.xml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DecodeXML(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	calls, ok := rec["CallForService"].([]any)
	if !ok || len(calls) != 2 {
		t.Fatalf("CallForService = %#v, want a list of 2", rec["CallForService"])
	}
	first, second := calls[0].(map[string]any), calls[1].(map[string]any)
	for _, tc := range []struct {
		rec  map[string]any
		key  string
		want any
	}{
		{first, "CallerName", nil},
		{first, "CloseDateTime", nil},
		{first, "Narrative", nil},
		{first, "CallerPhone", "5550104477"},
		{second, "CallerPhone", nil},
		{second, "Location", nil},
		{second, "CloseDateTime", "2026-01-26T10:02:00-05:00"},
	} {
		if v, ok := tc.rec[tc.key]; !ok || !reflect.DeepEqual(v, tc.want) {
			t.Errorf("%s = %#v (present %v), want %#v", tc.key, v, ok, tc.want)
		}
	}
	loc := first["Location"].(map[string]any)
	if v, ok := loc["CrossStreet"]; !ok || v != nil {
		t.Errorf("Location.CrossStreet = %#v, want nil", v)
	}
	if loc["Address"] != "1200 CALLE NIÑO" {
		t.Errorf("Location.Address = %q", loc["Address"])
	}
}
