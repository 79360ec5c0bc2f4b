package config_test

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// shadow: (shadow mode for go-live): defaults, values from the YAML (off unquoted too) and
// the environment, and validation naming the key and line.
func TestShadowKeys(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	want := config.ShadowConfig{Mode: "off", File: "shadow.jsonl", MaxSize: 64 * config.MiB, MaxFiles: 10}
	if cfg.Shadow != want || cfg.Shadowing() {
		t.Fatalf("defaults: %+v", cfg.Shadow)
	}
	withShadow := func(section string) string { return minimal(t) + "shadow: " + section + "\n" }
	cfg, err = config.Load(writeConfig(t, withShadow(`{mode: all, file: /var/log/shadow.jsonl, max_size: 1MiB}`)),
		config.Options{Environ: []string{"CAD_SIDECAR_SHADOW__MAX_FILES=3"}})
	if err != nil {
		t.Fatal(err)
	}
	want = config.ShadowConfig{Mode: "all", File: "/var/log/shadow.jsonl", MaxSize: config.MiB, MaxFiles: 3}
	if cfg.Shadow != want || !cfg.Shadowing() {
		t.Fatalf("set: %+v", cfg.Shadow)
	}
	cfg, err = config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{"CAD_SIDECAR_SHADOW__MODE=cad"}})
	if err != nil || cfg.Shadow.Mode != "cad" {
		t.Fatalf("env: %v %+v", err, cfg)
	}
	cfg, err = config.Load(writeConfig(t, withShadow(`{mode: off}`)), config.Options{Environ: []string{}})
	if err != nil || cfg.Shadow.Mode != "off" {
		t.Fatalf("unquoted off: %v", err)
	}
	line := "(config.yaml:15)"
	tests := []struct {
		section string
		want    []string
	}{
		{`{mode: cda}`, []string{`shadow.mode: must be one of off | cad | all, got "cda" ` + line}},
		{`{file: ""}`, []string{`shadow.file: must not be empty (the shadow file, JSON lines, relative to data_dir) ` + line}},
		{`{max_size: 100, max_files: 0}`, []string{
			`shadow.max_files: must be between 1 and 1000, got 0 ` + line,
			`shadow.max_size: must be at least 1KiB, got 100 ` + line,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, withShadow(tt.section)), config.Options{Environ: []string{}})
			if got := problems(t, err); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
