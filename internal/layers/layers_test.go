package layers

import (
	"flag"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/cad-sidecar/cad-sidecar"

// root is the module's root directory (two levels above this package).
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", dir, err)
	}
	return dir
}

// packages maps every package directory of the module (relative path) to its non-test
// imports of the module's own packages.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	dir := root(t)
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		var own []string
		for _, imp := range pkg.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				own = append(own, strings.TrimPrefix(strings.TrimPrefix(imp, module), "/"))
			}
		}
		out[rel] = own
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportsPointDown fails when a package imports one of its own layer or a higher one,
// or when a package is in no layer (add it to Layers and to ARCHITECTURE.md).
func TestImportsPointDown(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages; is the walk broken?", len(pkgs))
	}
	for pkg, imps := range pkgs {
		if Rank(pkg) < 0 {
			t.Errorf("package %s is in no layer: add it to layers.Layers and ARCHITECTURE.md", pkg)
			continue
		}
		for _, imp := range imps {
			if !Allowed(pkg, imp) {
				t.Errorf("%s (layer %q) imports %s (layer %q): dependencies must point down",
					pkg, Layers[Rank(pkg)].Name, imp, layerName(imp))
			}
		}
	}
	for _, l := range Layers {
		for _, p := range l.Packages {
			if _, ok := pkgs[p]; !ok {
				t.Errorf("layers.Layers names %s, which is not a package of the module", p)
			}
		}
	}
}

func layerName(pkg string) string {
	if r := Rank(pkg); r >= 0 {
		return Layers[r].Name
	}
	return "none"
}

// TestForbiddenImports holds the rules the project states in words.
func TestForbiddenImports(t *testing.T) {
	// explicit: not implied by the layers (the target is lower), held by this table alone.
	forbidden := []struct {
		from, to, why string
		explicit      bool
	}{
		{"outbox", "sidecar", "the outbox knows nothing of the host", false},
		{"outbox", "assist", "the outbox knows nothing of payloads", false},
		{"outbox", "adapters", "the outbox knows nothing of payloads", false},
		{"adapters", "sidecar", "adapters never import the host", false},
		{"adapters/rest", "sidecar", "adapters never import the host", false},
		{"adapters/sqldb", "sidecar", "adapters never import the host", false},
		{"adapters/filedrop", "sidecar", "adapters never import the host", false},
		{"adapters/rest", "mapping", "path and template helpers live in record and internal/tmplfuncs", false},
		{"adapters/rest", "outbox", "delivery errors live in delivery", true},
		{"adapters/sqldb", "outbox", "delivery errors live in delivery", true},
		{"adapters/push", "sidecar", "adapters never import the host", false},
		{"adapters/push", "outbox", "the host stores; the source only emits", true},
		{"adapters/filedrop", "outbox", "delivery errors live in delivery", true},
		{"internal/httpclass", "outbox", "HTTP classes speak delivery", true},
		{"assist", "sidecar", "the Assist client knows nothing of the host", false},
		{"record", "adapters", "record defines Record; adapters use it", false},
		{"record", "mapping", "the mapping is above the records", false},
		{"delivery", "outbox", "delivery is the bottom", false},
	}
	for _, f := range forbidden {
		if !f.explicit && Allowed(f.from, f.to) {
			t.Errorf("%s may import %s, but must not: %s", f.from, f.to, f.why)
		}
	}
	pkgs := packages(t)
	for _, f := range forbidden {
		for _, imp := range pkgs[f.from] {
			if imp == f.to {
				t.Errorf("%s imports %s: %s", f.from, f.to, f.why)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite the package table of ARCHITECTURE.md from Layers")

// TestArchitectureTable: ARCHITECTURE.md's package table is Layers, as Markdown renders it
// (go test ./internal/layers -update rewrites it).
func TestArchitectureTable(t *testing.T) {
	path := filepath.Join(root(t), "ARCHITECTURE.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		t.Fatalf("ARCHITECTURE.md has no generated package table (markers %q … %q)", BeginMarker, EndMarker)
	}
	cur := doc[i : j+len(EndMarker)+1]
	want := Markdown()
	if cur == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i]+want+doc[j+len(EndMarker)+1:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("ARCHITECTURE.md's package table is not internal/layers.Layers; run go test ./internal/layers -update\nhave:\n%s\nwant:\n%s", cur, want)
}

// TestArchitectureExample: the example adapter in ARCHITECTURE.md is the one
// adapters/example_test.go compiles and runs (every line of the shown listFactory).
func TestArchitectureExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root(t), "adapters", "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	d := string(doc)
	i := strings.Index(d, "var listFactory = adapters.Define(")
	j := strings.Index(d[max(i, 0):], "\n\t})\n")
	if i < 0 || j < 0 {
		t.Fatal("ARCHITECTURE.md shows no listFactory")
	}
	code := string(src)
	for _, line := range strings.Split(d[i:i+j], "\n") {
		l := strings.TrimSpace(line)
		if c := strings.Index(l, "//"); c >= 0 {
			l = strings.TrimSpace(l[:c])
		}
		if l != "" && !strings.Contains(code, l) {
			t.Errorf("ARCHITECTURE.md's example has %q, which adapters/example_test.go does not", l)
		}
	}
}
