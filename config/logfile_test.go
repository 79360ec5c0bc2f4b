package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestLogFileKeys: log.file is resolved against the config file's folder, log.max_size
// and log.max_files default to 100MiB and 10 and are refused by name out of range.
func TestLogFileKeys(t *testing.T) {
	path := writeConfig(t, minimal(t)+"log: {file: logs/cad-sidecar.log, max_size: 5MiB, max_files: 3}\n")
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(path), "logs", "cad-sidecar.log")
	if cfg.Log.File != want || cfg.Log.MaxSize != 5*config.MiB || cfg.Log.MaxFiles != 3 {
		t.Fatalf("log = %+v, want file %s, 5MiB, 3", cfg.Log, want)
	}
	cfg, err = config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.File != "" || cfg.Log.MaxSize != 100*config.MiB || cfg.Log.MaxFiles != 10 {
		t.Fatalf("defaults: log = %+v", cfg.Log)
	}
	tests := []struct{ yaml, want string }{
		{"log: {max_size: 512KiB}\n", "log.max_size: must be between 1MiB and 10GiB, got 512KiB"},
		{"log: {max_files: 0}\n", "log.max_files: must be between 1 and 1000, got 0"},
	}
	for _, tt := range tests {
		_, err := config.Load(writeConfig(t, minimal(t)+tt.yaml), config.Options{Environ: []string{}})
		got := problems(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("%q: problems %q, want one starting %q", tt.yaml, got, tt.want)
		}
	}
}
