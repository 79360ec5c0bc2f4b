package eido

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Validate checks a decoded config. Problem keys are relative to cad.eido. An absolute file
// path is opened here; a relative one is relative to the config file's folder, which only
// New knows (Deps.Dir): New opens every file and names its key when one is not readable.
func Validate(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.URL == "" {
		add("url", "required: the conveyance server's WebSocket URL, e.g. wss://esinet.example.gov/eido")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
		add("url", "%q is not an absolute wss:// or ws:// URL", c.URL)
	}
	if c.RequestSubType == "" {
		add("request_sub_type", `required: the subscribe's requestSubType, e.g. "new"`)
	}
	if c.MinRate < 0 {
		add("min_rate", "must be >= 0 (ms; 0 = leave out), got %d", c.MinRate)
	}
	if c.Bearer != "" && c.BearerFile != "" {
		add("bearer", "set either bearer or bearer_file, not both")
	}
	for _, f := range []struct{ key, path string }{
		{"bearer_file", c.BearerFile},
		{"tls.ca_file", c.TLS.CAFile},
		{"tls.cert_file", c.TLS.CertFile},
		{"tls.key_file", c.TLS.KeyFile},
	} {
		if f.path == "" || !filepath.IsAbs(f.path) {
			continue
		}
		if err := readable(f.path); err != nil {
			add(f.key, "not readable: %v", err)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "cert_file and key_file go together (the client certificate and its key)")
	}
	if c.Reconnect.Initial <= 0 {
		add("reconnect.initial", "must be > 0, got %s", c.Reconnect.Initial)
	}
	if c.Reconnect.Max < c.Reconnect.Initial {
		add("reconnect.max", "must be >= reconnect.initial (%s), got %s", c.Reconnect.Initial, c.Reconnect.Max)
	}
	return probs
}

// readable opens path for reading and closes it.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}
