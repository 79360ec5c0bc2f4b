package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/mixed.jsonl is real `go test -json` output (Go 1.26) of a module with a package
// without tests and four tests: TestOK passes, TestAllowed skips with "SKIP-OK: needs root",
// TestBad skips with "fixture missing: x", TestSub/a calls t.SkipNow.
func mixed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// without drops the events of the named tests.
func without(stream string, tests ...string) string {
	var keep []string
	for _, l := range strings.Split(stream, "\n") {
		drop := false
		for _, name := range tests {
			if strings.Contains(l, `"Test":"`+name+`"`) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		code       int
		unexpected []string // "package test: message"
		allowed    int
	}{
		{"unexpected skips found", mixed(t), 1, []string{"x TestBad: fixture missing: x", "x TestSub/a: (no message: t.SkipNow)"}, 1},
		{"only allowed skips", without(mixed(t), "TestBad", "TestSub/a"), 0, nil, 1},
		{"a failure", strings.Replace(without(mixed(t), "TestBad", "TestSub/a"), `"Action":"pass","Package":"x","Test":"TestOK"`, `"Action":"fail","Package":"x","Test":"TestOK"`, 1), 1, nil, 1},
		{"no events", "FAIL\tx [build failed]\n", 1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, summary strings.Builder
			r, err := check(strings.NewReader(tt.in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if code := r.summary(&summary); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, summary.String())
			}
			var got []string
			for _, s := range r.unexpected {
				got = append(got, s.name+": "+s.message)
			}
			if strings.Join(got, "\n") != strings.Join(tt.unexpected, "\n") {
				t.Errorf("unexpected skips\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.unexpected, "\n"))
			}
			if r.allowed != tt.allowed {
				t.Errorf("%d allowed skips, want %d", r.allowed, tt.allowed)
			}
			for _, s := range r.unexpected {
				if !strings.Contains(summary.String(), s.name) {
					t.Errorf("summary does not name %s:\n%s", s.name, summary.String())
				}
			}
		})
	}
}
