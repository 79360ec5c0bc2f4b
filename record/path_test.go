package record

import (
	"encoding/json"
	"testing"
)

// Paths are record's (the REST adapter and the mapping both resolve them here).
func TestLookupPaths(t *testing.T) {
	rec := Record{"data": map[string]any{"items": []any{map[string]any{"id": json.Number("1")}, "x"}}, "Remarks": "smoke"}
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"data.items[0].id", "1", true},
		{"data.items[-1]", "x", true},
		{"Remarks.#text", "smoke", true},
		{"Remarks[0]", "smoke", true},
		{"data.missing", "", false},
		{"data..items", "", false},
	}
	for _, tc := range tests {
		v, ok := Lookup(rec, tc.path)
		if ok != tc.ok || (ok && String(v) != tc.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %q, %v", tc.path, v, ok, tc.want, tc.ok)
		}
	}
	p, err := ParsePath("a[2].b")
	if err != nil || len(p.Steps()) != 3 || !p.Steps()[1].IsIndex || p.Steps()[2].Key != "b" {
		t.Fatalf("ParsePath steps %+v, %v", p.Steps(), err)
	}
}
