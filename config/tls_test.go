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

// assist.tls.* paths are resolved against the config file's folder and kept as paths (not
// read as `*_file` secrets); a lone cert_file and a proxy that is not a URL are problems
// naming their keys.
func TestAssistTLSAndProxy(t *testing.T) {
	body := strings.Replace(minimal(t), "  token: test-token\n",
		"  token: test-token\n  tls: {ca_file: ca.pem, cert_file: /etc/c.pem, key_file: k.pem}\n  proxy: http://proxy.example:3128\n", 1)
	p := writeConfig(t, body)
	cfg, err := config.Load(p, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if got := cfg.Assist.TLS; got.CAFile != filepath.Join(dir, "ca.pem") || got.CertFile != "/etc/c.pem" || got.KeyFile != filepath.Join(dir, "k.pem") {
		t.Errorf("assist.tls = %+v", got)
	}
	if cfg.Assist.Proxy != "http://proxy.example:3128" {
		t.Errorf("assist.proxy = %q", cfg.Assist.Proxy)
	}
	body = strings.Replace(minimal(t), "  token: test-token\n", "  token: test-token\n  tls: {cert_file: c.pem}\n  proxy: \"proxy.example:3128\"\n", 1)
	_, err = config.Load(writeConfig(t, body), config.Options{Environ: []string{}})
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{"assist.tls.cert_file: tls.cert_file and tls.key_file go together", "assist.proxy: "} {
		if !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nwant one starting %q", got, want)
		}
	}
}

// The eido adapter's tls files are paths too (they were read as secrets, and the config
// refused with "cad.eido.tls.ca: unknown key").
func TestEidoTLSFilesArePaths(t *testing.T) {
	body := `assist: {base_url: "https://a.example.com", token: t, notes: pull}
cad:
  adapter: eido
  eido: {url: "wss://x.example/e", tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}}
mapping: {incident_id: id}
`
	if _, err := config.Load(writeConfig(t, body), config.Options{Environ: []string{}}); err != nil {
		t.Fatalf("Load: %v", err)
	}
}
