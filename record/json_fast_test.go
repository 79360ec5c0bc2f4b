package record

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeJSONFastPath: the fast path (one encoding/json Decode) gives exactly the token
// path's value whenever it takes an input, and leaves to the token path every input the
// token path refuses (so the errors, with their offsets, stay the token path's).
func FuzzDecodeJSONFastPath(f *testing.F) {
	addSeeds(f, "*.json", `[{"a":[1,{"b":null}]}]`, `{"a":1} {}`, `[[[[[[[[[[]]]]]]]]]]`, `[[[[[[[[]]]]]]]]`,
		`{"a":"x\"[[[[[[[[[[","a":2}`, `{"k":"`+strings.Repeat("s", 300)+`"}`, `[{},{},{}]`, `{"a":1e400}`, "{\"a\":\"\xff\"}", `[] x`, `{"a":[]}`)
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := fuzzLimits.withDefaults()
		fast, ok := fastJSON(in, lim)
		slow, err := tokenJSON(in, lim)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast path took %q, the token path refuses it: %v", in, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path %#v, token path %#v", fast, slow)
		}
	})
}

// TestJSONFastPathRefusesOverLimits: inputs over a limit are not taken by the fast path
// (the token path reports them).
func TestJSONFastPathRefusesOverLimits(t *testing.T) {
	lim := fuzzLimits.withDefaults()
	for name, in := range map[string]string{
		"too deep":          strings.Repeat("[", 9) + strings.Repeat("]", 9),
		"string too long":   `{"a":"` + strings.Repeat("s", 257) + `"}`,
		"key too long":      `{"` + strings.Repeat("k", 257) + `":1}`,
		"too many records":  "[" + strings.Repeat("{},", 50) + "{}]",
		"data after":        `{"a":1} {}`,
		"invalid":           `{"a":}`,
		"bracket in string": `{"a":"]]]]"` + strings.Repeat("[", 9) + strings.Repeat("]", 9) + `}`,
	} {
		if _, ok := fastJSON([]byte(in), lim); ok {
			t.Errorf("%s: taken by the fast path", name)
		}
		if _, err := DecodeJSON([]byte(in), fuzzLimits); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, ok := fastJSON([]byte(`{"a":"[[[[[[[[[[[[","b":[1,{"c":null}]}`), lim); !ok {
		t.Error("brackets inside a string counted as nesting")
	}
}
