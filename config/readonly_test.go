package config_test

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// cad.readonly (the notes file of a read-only integration): defaults, values from the
// YAML and the environment, and validation naming the key and line.
func TestReadOnlyNotesFileKeys(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if ro := cfg.CAD.ReadOnly; ro.File != "notes.jsonl" || ro.MaxSize != 64*config.MiB || ro.MaxFiles != 5 {
		t.Fatalf("defaults: %+v", ro)
	}
	withReadOnly := func(section string) string {
		return strings.Replace(minimal(t), "  adapter: rest\n", "  adapter: rest\n  readonly: "+section+"\n", 1)
	}
	cfg, err = config.Load(writeConfig(t, withReadOnly(`{file: /var/log/cad-notes.jsonl, max_size: 1MiB}`)),
		config.Options{Environ: []string{"CAD_SIDECAR_CAD__READONLY__MAX_FILES=9"}})
	if err != nil {
		t.Fatal(err)
	}
	if ro := cfg.CAD.ReadOnly; ro.File != "/var/log/cad-notes.jsonl" || ro.MaxSize != config.MiB || ro.MaxFiles != 9 {
		t.Fatalf("set: %+v", ro)
	}
	tests := []struct {
		section string
		want    []string
	}{
		{`{file: ""}`, []string{`cad.readonly.file: must not be empty (the notes file of a read-only integration, relative to data_dir) (config.yaml:8)`}},
		{`{max_size: 100, max_files: 0}`, []string{
			`cad.readonly.max_files: must be between 1 and 1000, got 0 (config.yaml:8)`,
			`cad.readonly.max_size: must be at least 1KiB, got 100 (config.yaml:8)`,
		}},
		{`{max_files: 1001}`, []string{`cad.readonly.max_files: must be between 1 and 1000, got 1001 (config.yaml:8)`}},
		{`{fiel: x.jsonl}`, nil}, // unknown key: reported by the strict check (below)
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, withReadOnly(tt.section)), config.Options{Environ: []string{}})
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), "cad.readonly.fiel") {
					t.Fatalf("unknown key not reported: %v", err)
				}
				return
			}
			if got := problems(t, err); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
