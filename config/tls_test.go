package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// withServer is the minimal config with its server: line replaced.
func withServer(t *testing.T, server string) string {
	t.Helper()
	m := minimal(t)
	first, rest, _ := strings.Cut(m, "\n")
	if !strings.HasPrefix(first, "server:") {
		t.Fatalf("testdata/minimal.yaml no longer starts with server: %q", first)
	}
	return "server: " + server + "\n" + rest
}

// server.client_ca is resolved against the config file's folder like tls_cert, and needs
// tls_cert: without it the problem names the key and the line.
func TestServerClientCA(t *testing.T) {
	p := writeConfig(t, withServer(t, `{public_url: "https://s.example.org", tls_cert: s.pem, tls_key: s-key.pem, client_ca: clients.pem}`))
	cfg, err := config.Load(p, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "clients.pem"); cfg.Server.ClientCA != want {
		t.Errorf("server.client_ca = %q, want %q", cfg.Server.ClientCA, want)
	}
	_, err = config.Load(writeConfig(t, withServer(t, `{public_url: "https://s.example.org", client_ca: clients.pem}`)), config.Options{Environ: []string{}})
	got := problems(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], "server.client_ca: needs server.tls_cert") || !strings.HasSuffix(got[0], "(config.yaml:1)") {
		t.Fatalf("problems %q, want one naming server.client_ca at config.yaml:1", got)
	}
}
