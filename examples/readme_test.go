package examples_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryExample fails for each example folder that examples/README.md does
// not describe with a `**name/**` paragraph (the trial found rest-paged-oauth2 missing).
func TestREADMEListsEveryExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatalf("read examples/README.md: %v", err)
	}
	readme := string(b)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatalf("list examples/: %v", err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" {
			continue
		}
		n++
		if !strings.Contains(readme, "**"+e.Name()+"/**") {
			t.Errorf("examples/%s/ is not described in examples/README.md (add a paragraph starting **%s/**)", e.Name(), e.Name())
		}
	}
	if n == 0 {
		t.Fatal("no example folders found: is the test running in examples/?")
	}
}
