// Package layers is the project's dependency rule, written down once: every package of the
// module sits in one layer, and a package imports only packages of lower layers (never its
// own layer, never a higher one). The test of this package reads every package's imports
// (test files aside) and fails when one points sideways or up, or when a package is in no
// layer; ARCHITECTURE.md's package table is checked against Layers by the same test.
package layers

import (
	"fmt"
	"strings"
)

// Layers lists the module's packages (import paths relative to the module), lowest first.
var Layers = []Layer{
	{"foundations", "no project imports: the delivery error vocabulary and small helpers (certificate reloading, test certificates)", []string{
		"delivery", "internal/ident", "internal/suggest", "internal/testseed", "internal/tools/skipcheck",
		"internal/tlsreload", "internal/testcert", "internal/testproxy",
	}},
	{"data and storage", "the generic record and its decoders; the durable outbox; HTTP failure classes; the outbound transport (TLS, proxy); test databases", []string{
		"record", "outbox", "internal/httpclass", "internal/dbtest", "internal/outbound",
	}},
	{"contracts", "the adapter contract, the Assist protocol, template helpers", []string{
		"adapters", "assist", "internal/tmplfuncs",
	}},
	{"integrations", "the adapters, the mapping, the simulated CAD and Assist", []string{
		"adapters/rest", "adapters/sqldb", "adapters/push", "adapters/filedrop", "adapters/eido", "mapping", "internal/sim",
	}},
	{"configuration", "the config file; benchmark data", []string{
		"config", "internal/benchdata",
	}},
	{"host", "the sidecar: flows, delivery loops, listeners, readiness", []string{
		"sidecar",
	}},
	{"programs and test suites", "the binaries; the adapter conformance suite; the examples' tests", []string{
		"cmd/cad-sidecar", "cmd/sidecar-bench", "internal/tools/simserve", "adapters/adaptertest", "internal/layers", "examples",
	}},
}

// Layer is one layer of the module.
type Layer struct {
	Name     string
	Doc      string
	Packages []string
}

// Rank returns the layer index of pkg (relative import path), or -1 when it is in none.
func Rank(pkg string) int {
	for i, l := range Layers {
		for _, p := range l.Packages {
			if p == pkg {
				return i
			}
		}
	}
	return -1
}

// Allowed reports whether package from may import package to: to must be in a lower layer.
func Allowed(from, to string) bool {
	f, t := Rank(from), Rank(to)
	return f >= 0 && t >= 0 && t < f
}

// Markdown renders Layers as the package table of ARCHITECTURE.md (highest layer first,
// as one reads a stack), between the markers the test looks for.
func Markdown() string {
	var b strings.Builder
	b.WriteString(BeginMarker + "\n")
	b.WriteString("| layer | packages | what lives there |\n|---|---|---|\n")
	for i := len(Layers) - 1; i >= 0; i-- {
		l := Layers[i]
		pk := make([]string, len(l.Packages))
		for j, p := range l.Packages {
			pk[j] = "`" + p + "`"
		}
		fmt.Fprintf(&b, "| %d %s | %s | %s |\n", i, l.Name, strings.Join(pk, ", "), l.Doc)
	}
	b.WriteString(EndMarker + "\n")
	return b.String()
}

// The markers around the generated table in ARCHITECTURE.md.
const (
	BeginMarker = "<!-- layers:begin (generated from internal/layers: go test ./internal/layers -update) -->"
	EndMarker   = "<!-- layers:end -->"
)
