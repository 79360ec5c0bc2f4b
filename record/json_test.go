package record

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{
		{"object", `{"a":"x","n":1}`, []Record{{"a": "x", "n": json.Number("1")}}},
		{"array of objects", ` [ {"a":1}, {"a":2} ] `, []Record{{"a": json.Number("1")}, {"a": json.Number("2")}}},
		{"empty array", `[]`, []Record{}},
		{"nested and null", `{"o":{"l":[1,"s",true,null,[],{}]},"z":null}`, []Record{{
			"o": map[string]any{"l": []any{json.Number("1"), "s", true, nil, []any{}, map[string]any{}}},
			"z": nil,
		}}},
		{"big numbers kept exact", `{"id":123456789012345678901234567890,"f":0.10000000000000000001,"e":1e400,"neg":-0.0}`, []Record{{
			"id": json.Number("123456789012345678901234567890"), "f": json.Number("0.10000000000000000001"),
			"e": json.Number("1e400"), "neg": json.Number("-0.0"),
		}}},
		{"repeated key keeps the last", `{"a":1,"a":2}`, []Record{{"a": json.Number("2")}}},
		{"UTF-8 BOM", "\xEF\xBB\xBF{\"a\":\"é\"}", []Record{{"a": "é"}}},
		{"UTF-16LE BOM", string(utf16Bytes(`{"a":"é"}`, false, true)), []Record{{"a": "é"}}},
		{"escapes", `{"a":"\u00e9\n\"\\"}`, []Record{{"a": "é\n\"\\"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeJSON([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeJSONFixtures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := DecodeJSON(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if r["CadSequence"] != json.Number("90071992547409930001") || r["Latitude"] != json.Number("45.50860000000000001") {
		t.Errorf("numbers not exact: %v %v", r["CadSequence"], r["Latitude"])
	}
	if u := r["Units"].([]any)[1].(map[string]any)["Id"]; u != "L4" {
		t.Errorf("Units[1].Id = %v", u)
	}
	if v, ok := r["Disposition"]; !ok || v != nil {
		t.Errorf("Disposition = %v, %v", v, ok)
	}

	data, err = os.ReadFile(filepath.Join("testdata", "incidents.json"))
	if err != nil {
		t.Fatal(err)
	}
	if recs, err = DecodeJSON(data, Limits{}); err != nil || len(recs) != 3 {
		t.Fatalf("incidents.json: %d records, %v", len(recs), err)
	}
	if recs[0]["Amount"] != json.Number("12.50") || recs[1]["Amount"] != json.Number("1e400") {
		t.Errorf("amounts %v %v", recs[0]["Amount"], recs[1]["Amount"])
	}
}

func TestDecodeJSONEIDO(t *testing.T) {
	f, err := os.Open(eidoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := Decode(JSON, f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r["eidoVersion"] != "1.0" {
		t.Errorf("eidoVersion = %v", r["eidoVersion"])
	}
	call := r["callComponent"].([]any)[0].(map[string]any)
	if call["$id"] != "urn:emergency:uid:callid:a56e556d871:bcf.state.pa.us" {
		t.Errorf("callComponent[0].$id = %v", call["$id"])
	}
	if v := r["agencyComponent"].([]any)[0].(map[string]any)["incidentOwningAgencyIndicator"]; v != false {
		t.Errorf("incidentOwningAgencyIndicator = %v", v)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want string
		is   error
	}{
		{"trailing garbage", `{"a":"SECRET"} x`, Limits{}, "record: json: offset 15: unexpected data after the top-level value", nil},
		{"second value", "{\"a\":\"SECRET\"}\n{}", Limits{}, "record: json: offset 15: unexpected data after the top-level value", nil},
		{"trailing brace", `{"a":"SECRET"}}`, Limits{}, "record: json: offset 14: unexpected data after the top-level value", nil},
		{"syntax", `{"a":"SECRET",}`, Limits{}, "record: json: offset 14: invalid character '}' looking for beginning of object key string", nil},
		{"truncated", `{"a":["SECRET"`, Limits{}, "record: json: offset 14: unexpected end of input", nil},
		{"empty", ``, Limits{}, "record: json: no JSON value in the input", nil},
		{"whitespace only", " \n ", Limits{}, "record: json: no JSON value in the input", nil},
		{"scalar", `"SECRET"`, Limits{}, "record: json: the top-level value is a string, not an object or an array of objects", nil},
		{"array item", `[{}, 5]`, Limits{}, "record: json: item 1 of the top-level array is a number, not an object", nil},
		{"depth", `{"a":[{"b":["SECRET"]}]}`, Limits{MaxDepth: 3}, "record: json: offset 11: nesting too deep: more than 3 levels (mapping.input.max_depth)", ErrTooDeep},
		{"million deep", strings.Repeat("[", 1_000_000), Limits{}, "record: json: offset 64: nesting too deep: more than 64 levels (mapping.input.max_depth)", ErrTooDeep},
		{"string too long", `{"a":"SECRET-SECRET"}`, Limits{MaxString: 8}, "record: json: offset 20: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"key too long", `{"SECRET-SECRET":1}`, Limits{MaxString: 8}, "record: json: offset 16: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"number too long", `{"a":1234567890}`, Limits{MaxString: 8}, "record: json: offset 15: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"too large", `{"a":"SECRET"}`, Limits{MaxBytes: 8}, "record: json: input too large: more than 8 bytes (mapping.input.max_bytes)", ErrTooLarge},
		{"too many records", `[{},{},{"a":"SECRET"}]`, Limits{MaxRecords: 2}, "record: json: offset 21: too many records: more than 2 (mapping.input.max_records)", ErrTooManyRecords},
		{"odd UTF-16", "\xFF\xFE{\x00}", Limits{}, "record: json: UTF-16 input has an odd number of bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := DecodeJSON([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the input", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
