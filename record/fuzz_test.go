package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small so the fuzzer reaches them.
var fuzzLimits = Limits{MaxBytes: 1 << 16, MaxDepth: 8, MaxString: 256, MaxRecords: 50}

func addSeeds(f *testing.F, pattern string, extra ...string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// size walks a decoded value: nodes and bytes of keys and strings, the deepest container
// nesting, and the longest string or key.
type size struct{ total, depth, longest int }

func measure(v any, depth int, s *size) {
	s.total++
	if depth > s.depth {
		s.depth = depth
	}
	str := func(x string) {
		s.total += len(x)
		if len(x) > s.longest {
			s.longest = len(x)
		}
	}
	switch x := v.(type) {
	case string:
		str(x)
	case json.Number:
		str(string(x))
	case map[string]any:
		for k, e := range x {
			str(k)
			measure(e, depth+1, s)
		}
	case []any:
		for _, e := range x {
			measure(e, depth+1, s)
		}
	}
}

// checkBounded fails when the output is out of proportion to the input or the limits.
func checkBounded(t *testing.T, in []byte, v any, maxDepth, maxString int) {
	t.Helper()
	var s size
	measure(v, 0, &s)
	if limit := 4*len(in) + 64; s.total > limit {
		t.Fatalf("output size %d for %d bytes of input", s.total, len(in))
	}
	if s.depth > maxDepth {
		t.Fatalf("output nesting %d, limit %d", s.depth, maxDepth)
	}
	if s.longest > maxString+1 { // +1: the "@" of an attribute key
		t.Fatalf("output string of %d bytes, limit %d", s.longest, maxString)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	addSeeds(f, "*.json", `[{"a":[1,{"b":null}]}]`, `{"a":1} {}`, "\xEF\xBB\xBF{}", `[[[[[[[[[[]]]]]]]]]]`)
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := DecodeJSON(in, fuzzLimits)
		if err != nil {
			if recs != nil {
				t.Fatal("records and an error")
			}
			return
		}
		if len(recs) > fuzzLimits.MaxRecords {
			t.Fatalf("%d records", len(recs))
		}
		list := make([]any, len(recs))
		for i, r := range recs {
			list[i] = r
		}
		checkBounded(t, in, list, fuzzLimits.MaxDepth, fuzzLimits.MaxString)
		// Valid UTF-8 JSON in, same data out: re-encoding and decoding is stable.
		if utf8.Valid(in) && !bytes.HasPrefix(in, bomUTF8) {
			again, err := json.Marshal(recs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeJSON(again, Limits{}); err != nil {
				t.Fatalf("re-encoded output does not decode: %v", err)
			}
		}
	})
}

func FuzzDecodeXML(f *testing.F) {
	addSeeds(f, "*.xml", billionLaughs, `<r a="1"><b>x<c/>y</b><b/></r>`,
		`<?xml version="1.0" encoding="windows-1252"?><r>`+"\x80"+`</r>`, "<r>&#x10000;&amp;</r>")
	f.Fuzz(func(t *testing.T, in []byte) {
		rec, err := DecodeXML(in, fuzzLimits)
		if err != nil {
			if rec != nil {
				t.Fatal("a record and an error")
			}
			return
		}
		// Each element level may add a list level.
		checkBounded(t, in, rec, 2*fuzzLimits.MaxDepth, fuzzLimits.MaxString)
	})
}

func FuzzDecodeCSV(f *testing.F) {
	addSeeds(f, "*.csv", "a,b\n1,2\n", "a\n\"x\ny\"\n", "a,a\n", "\xFF\xFEa\x00\n\x001\x00")
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := DecodeCSV(bytes.NewReader(in), fuzzLimits)
		var sk *SkippedRows
		if errors.As(err, &sk) {
			if sk.Count == 0 || len(sk.Rows) == 0 || len(sk.Rows) > MaxListed {
				t.Fatalf("skipped rows %d, listed %d", sk.Count, len(sk.Rows))
			}
			for _, r := range sk.Rows {
				if r.Line <= 0 {
					t.Fatalf("skipped row without a line: %v", r)
				}
			}
		} else if err != nil {
			if recs != nil {
				t.Fatal("records and an error")
			}
			return
		}
		if len(recs) > fuzzLimits.MaxRecords {
			t.Fatalf("%d records", len(recs))
		}
		var keys int
		for i, r := range recs {
			if i > 0 && len(r) != keys {
				t.Fatalf("record %d has %d keys, record 0 has %d", i, len(r), keys)
			}
			keys = len(r)
			for k, v := range r {
				if k == "" {
					t.Fatal("empty key")
				}
				s, ok := v.(string)
				if !ok {
					t.Fatalf("value of type %T", v)
				}
				if len(s) > fuzzLimits.MaxString {
					t.Fatalf("value of %d bytes", len(s))
				}
				if !utf8.ValidString(s) || !utf8.ValidString(k) {
					t.Fatalf("not UTF-8: %q: %q", k, s)
				}
			}
		}
	})
}
