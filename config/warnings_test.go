package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestWarningsWithoutSample: a config without mapping.sample loads, with a warning that
// names what could not be checked; with a sample the warning is gone. A write_note.body
// that does not render valid JSON is a problem.
func TestWarningsWithoutSample(t *testing.T) {
	body := minimal(t) + "    - {name: Addr, expr: 'Loc.Street'}\n    - {name: T, template: '{{.Loc.Number}}'}\n"
	cfg, err := config.Load(writeConfig(t, body), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 {
		t.Fatalf("warnings = %v, want one about mapping.sample", cfg.Warnings)
	}
	w := cfg.Warnings[0].String()
	for _, want := range []string{"mapping.sample: not set", "fields[1].expr", "incident_id, fields[0].from", "fields[2].template", "config.yaml:"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}

	p := writeConfig(t, strings.Replace(body, "mapping:\n", "mapping:\n  sample: sample.json\n", 1))
	if err := os.WriteFile(filepath.Join(filepath.Dir(p), "sample.json"),
		[]byte(`{"IncidentNumber": "1", "Nature": {"Code": "F"}, "Loc": {"Street": "Main", "Number": 1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(p, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings with a sample: %v", cfg.Warnings)
	}

	bad := strings.Replace(minimal(t), `poll: {path: "/incidents?since={{.Cursor}}"}`,
		`poll: {path: "/incidents?since={{.Cursor}}"}`+"\n    write_note: {body: '{\"text\": \"{{.Text}}\"}'}", 1)
	_, err = config.Load(writeConfig(t, bad), config.Options{Environ: []string{}})
	if ps := strings.Join(problems(t, err), "\n"); !strings.Contains(ps, "cad.rest.write_note.body") || !strings.Contains(ps, "does not render valid JSON") {
		t.Errorf("problems = %s, want write_note.body not valid JSON", ps)
	}
}
