package sidecar_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryREADMEMetricIsTested: each metric of the README's metrics table is named by at
// least one test of the repository (besides this one), so a metric documented without a
// test asserting it fails here.
func TestEveryREADMEMetricIsTested(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(cad_sidecar_[a-z0-9_]+)`")
	var metrics []string
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		metrics = append(metrics, m[1])
	}
	if len(metrics) < 9 {
		t.Fatalf("found %d metric rows in README.md (%v): has the table moved?", len(metrics), metrics)
	}
	var tests strings.Builder
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") || filepath.Base(path) == "metrics_readme_test.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tests.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := tests.String()
	for _, m := range metrics {
		if !strings.Contains(all, `"`+m) && !strings.Contains(all, "`"+m) {
			t.Errorf("README metric %s is asserted by no test (name it in a test that checks its value)", m)
		}
	}
}
