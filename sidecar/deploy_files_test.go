package sidecar_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeMetrics is the set of metrics of the README's metrics table.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(cad_sidecar_[a-z0-9_]+)`").FindAllStringSubmatch(string(readme), -1) {
		out[m[1]] = true
	}
	return out
}

// usedMetrics are the cad_sidecar_ metric names in s, histogram suffixes stripped.
func usedMetrics(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`cad_sidecar_[a-z0-9_]+`).FindAllString(s, -1) {
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(m, "_seconds"+suf) {
				m = strings.TrimSuffix(m, suf)
			}
		}
		out = append(out, m)
	}
	return out
}

// TestGrafanaDashboard: deploy/grafana-dashboard.json parses as JSON, is a dashboard
// (title, uid, panels each with a query) and names only metrics the README documents.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title, UID string
		Panels     []struct {
			ID      int
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) < 5 {
		t.Fatalf("dashboard title %q uid %q with %d panels: not a dashboard", d.Title, d.UID, len(d.Panels))
	}
	known, ids := readmeMetrics(t), map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range usedMetrics(q.Expr) {
				if !known[m] {
					t.Errorf("panel %q queries %s, which the README's metrics table does not list", p.Title, m)
				}
			}
		}
	}
}

// TestAlertRulesNameDocumentedMetrics: every cad_sidecar_ metric the example alert rules
// use is in the README's metrics table (a renamed metric breaks no alert silently).
// promtool checks the file itself in .ci/run.
func TestAlertRulesNameDocumentedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	known := readmeMetrics(t)
	used := usedMetrics(string(b))
	if len(used) < 6 {
		t.Fatalf("found %d metric uses in prometheus-alerts.yml", len(used))
	}
	for _, m := range used {
		if !known[m] {
			t.Errorf("prometheus-alerts.yml uses %s, which the README's metrics table does not list", m)
		}
	}
}
