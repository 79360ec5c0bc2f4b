package eido_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/eido"
)

// TestValidate: each bad setting is one problem naming its key (relative to cad.eido).
func TestValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.pem")
	cases := []struct {
		name    string
		edit    func(c *eido.Config)
		key, in string
	}{
		{"ok", func(c *eido.Config) {}, "", ""},
		{"no url", func(c *eido.Config) { c.URL = "" }, "url", "required"},
		{"http url", func(c *eido.Config) { c.URL = "https://esinet.example.gov/eido" }, "url", "wss://"},
		{"no host", func(c *eido.Config) { c.URL = "wss:///eido" }, "url", "wss://"},
		{"ca unreadable", func(c *eido.Config) { c.TLS.CAFile = missing }, "tls.ca_file", "not readable"},
		{"cert unreadable", func(c *eido.Config) { c.TLS.CertFile, c.TLS.KeyFile = missing, missing }, "tls.cert_file", "not readable"},
		{"cert without key", func(c *eido.Config) { c.TLS.CertFile = "client.pem" }, "tls", "together"},
		{"bearer twice", func(c *eido.Config) { c.Bearer, c.BearerFile = "x", "token.txt" }, "bearer", "either"},
		{"initial > max", func(c *eido.Config) { c.Reconnect.Initial, c.Reconnect.Max = time.Minute, time.Second }, "reconnect.max", ">= reconnect.initial"},
		{"initial 0", func(c *eido.Config) { c.Reconnect.Initial = 0 }, "reconnect.initial", "> 0"},
		{"min_rate negative", func(c *eido.Config) { c.MinRate = -1 }, "min_rate", ">= 0"},
		{"no sub type", func(c *eido.Config) { c.RequestSubType = "" }, "request_sub_type", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := eido.NewConfig()
			c.URL = "wss://esinet.example.gov/eido"
			tc.edit(c)
			probs := eido.Validate(c)
			if tc.key == "" {
				if len(probs) != 0 {
					t.Fatalf("problems %v, want none", probs)
				}
				return
			}
			found := false
			for _, p := range probs {
				if p.Key == tc.key && strings.Contains(p.Msg, tc.in) {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems %v, want one at %q saying %q", probs, tc.key, tc.in)
			}
		})
	}
}

// TestNewRelativeFiles: relative files are read from the config file's folder, and one
// that is not readable stops New with its key named.
func TestNewRelativeFiles(t *testing.T) {
	c := eido.NewConfig()
	c.URL = "wss://esinet.example.gov/eido"
	c.TLS.CAFile = "certs/ca.pem"
	_, _, err := eido.Factory.New(c, adapters.Deps{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Fatalf("New with a missing relative ca_file = %v, want an error naming tls.ca_file", err)
	}
	c = eido.NewConfig()
	c.URL = "wss://esinet.example.gov/eido"
	c.BearerFile = "token.txt"
	_, _, err = eido.Factory.New(c, adapters.Deps{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "bearer_file") {
		t.Fatalf("New with a missing bearer_file = %v, want an error naming bearer_file", err)
	}
}
