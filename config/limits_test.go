package config_test

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// server.max_header_bytes, server.max_conns and log.content: defaults, decoding and
// validation naming the key and line.
func TestServerLimitsAndLogContent(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.MaxHeaderBytes != 32*config.KiB || cfg.Server.MaxConns != 256 || cfg.Log.Content {
		t.Fatalf("defaults: max_header_bytes %s, max_conns %d, log.content %v", cfg.Server.MaxHeaderBytes, cfg.Server.MaxConns, cfg.Log.Content)
	}
	set := strings.Replace(minimal(t), `server: {public_url: "https://sidecar.example.org"}`,
		`server: {public_url: "https://sidecar.example.org", max_header_bytes: 64KiB, max_conns: 1000}`+"\nlog: {content: true}", 1)
	cfg, err = config.Load(writeConfig(t, set), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.MaxHeaderBytes != 64*config.KiB || cfg.Server.MaxConns != 1000 || !cfg.Log.Content {
		t.Fatalf("set: %+v %+v", cfg.Server, cfg.Log)
	}
	bad := strings.Replace(minimal(t), `server: {public_url: "https://sidecar.example.org"}`,
		`server: {public_url: "https://sidecar.example.org", max_header_bytes: 100, max_conns: 0}`, 1)
	_, err = config.Load(writeConfig(t, bad), config.Options{Environ: []string{}})
	want := []string{
		`server.max_conns: must be between 8 and 100000, got 0 (config.yaml:1)`,
		`server.max_header_bytes: must be between 4KiB and 1MiB, got 100 (config.yaml:1)`,
	}
	if got := problems(t, err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
