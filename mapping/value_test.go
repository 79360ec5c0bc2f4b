package mapping

import (
	"github.com/cad-sidecar/cad-sidecar/adapters"

	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	s := "p"
	tests := []struct {
		v    any
		want string
	}{
		{nil, ""},
		{"abc", "abc"},
		{json.Number("260045123"), "260045123"},
		{json.Number("12.50"), "12.50"},
		{json.Number("1e3"), "1e3"},
		{true, "true"},
		{false, "false"},
		{260045123, "260045123"},
		{int64(-9007199254740993), "-9007199254740993"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{int8(-8), "-8"},
		{float64(260045123), "260045123"},
		{12.5, "12.5"},
		{1e20, "100000000000000000000"},
		{0.000001, "0.000001"},
		{float32(0.1), "0.1"},
		{[]byte("raw"), "raw"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.FixedZone("", -6*3600)), "2026-01-02T03:04:05.5-06:00"},
		{map[string]any{"b": json.Number("1.0"), "a": "<&>"}, `{"a":"<&>","b":1.0}`},
		{[]any{"x", json.Number("2"), nil}, `["x",2,null]`},
		{[]string{"a", "b"}, `["a","b"]`},
		{sql.NullString{String: "ns", Valid: true}, "ns"},
		{sql.NullInt64{}, ""},
		{&s, "p"},
		{(*string)(nil), ""},
		{errors.New("boom"), "boom"},
	}
	for _, tc := range tests {
		if got := String(tc.v); got != tc.want {
			t.Errorf("String(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	good := map[string]int{"": 0, "A": 1, "A.B": 2, "Units[0].Id": 3, "[1]": 1, "M[0][-1]": 3, "Call Taker.Id": 2, "@id": 1}
	for p, n := range good {
		got, err := ParsePath(p)
		if err != nil || len(got.Steps()) != n || got.String() != p {
			t.Errorf("ParsePath(%q) = %d steps, %v; want %d", p, len(got.Steps()), err, n)
		}
	}
	for _, p := range []string{".", "A.", ".A", "A..B", "A[", "A[x]", "A[0]x", "A]", "A.[0]"} {
		if _, err := ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) succeeded", p)
		}
	}
}

func TestLookup(t *testing.T) {
	rec := decodeRecord(t, []byte(`{"data": {"items": [{"id": 1}, {"id": 2, "tags": ["a", "b"]}]}, "n": null}`))
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"data.items[1].id", json.Number("2"), true},
		{"data.items[1].tags[-1]", "b", true},
		{"data.items[-3]", nil, false},
		{"data.items[2]", nil, false},
		{"data.items.id", nil, false},
		{"data.nope", nil, false},
		{"n", nil, true},
		{"n.x", nil, false},
		{"A[", nil, false},
	}
	for _, tc := range tests {
		got, ok := Lookup(rec, tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := Lookup(rec, ""); !ok || got == nil {
		t.Error(`Lookup("") is not the record`)
	}
	// Typed containers other sources may produce.
	typed := map[string]any{"s": map[string]string{"k": "v"}, "l": []map[string]any{{"k": 1}}, "i": []int{4, 5}, "t": map[string]int{"k": 6}}
	for path, want := range map[string]any{"s.k": "v", "l[0].k": 1, "i[1]": 5, "t.k": 6} {
		if got, ok := Lookup(typed, path); !ok || got != want {
			t.Errorf("Lookup(typed, %q) = %#v, %v", path, got, ok)
		}
	}
	// A list body (the rest adapter's items: "").
	if got, ok := Lookup([]any{"x"}, "[0]"); !ok || got != "x" {
		t.Errorf(`Lookup(list, "[0]") = %#v, %v`, got, ok)
	}
}

func TestNumberValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"260045123", 260045123},
		{"-7", -7},
		{"12.50", 12.5},
		{"1e3", 1000.0},
		{"123456789012345678901234", "123456789012345678901234"},
	}
	for _, tc := range tests {
		if got := numberValue(json.Number(tc.in)); got != tc.want {
			t.Errorf("numberValue(%s) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

// In an XML record an element is a list only when it repeats: Units.Unit[0] must find the
// only unit of an incident that has one, in from paths and in the Mapper's shared paths.
func TestLookupSingleElementIsAListOfOne(t *testing.T) {
	one := adapters.Record{"Units": map[string]any{"Unit": map[string]any{"@id": "E12", "Status": "ENR"}},
		"Remarks": map[string]any{"Remark": "Smoke showing"}, "None": nil}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"Units.Unit[0].Status", "ENR", true},
		{"Units.Unit[-1].@id", "E12", true},
		{"Units.Unit[1].Status", nil, false},
		{"Units.Unit[-2]", nil, false},
		{"Remarks.Remark[0]", "Smoke showing", true},
		{"None[0]", nil, false},
		{"Missing[0]", nil, false},
	}
	for _, tc := range tests {
		got, ok := Lookup(one, tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	m := mustCompile(t, Config{IncidentID: "Units.Unit[0].@id", Fields: []Field{{Name: "Status", From: "Units.Unit[0].Status"}}})
	res, err := m.Map(one)
	if err != nil || res.Request.IncidentID != "E12" || res.Request.Fields[0].Value != "ENR" {
		t.Errorf("Map = %+v, %v", res, err)
	}
}
