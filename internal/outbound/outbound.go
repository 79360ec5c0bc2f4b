// Package outbound builds the HTTP transport of the sidecar's calls to other services (the
// Assist API, a CAD's REST API, an EIDO conveyance server) from one typed config: the CA
// bundle the server's certificate must chain to, a client certificate for mutual TLS, and
// the HTTP proxy. Certificate verification cannot be turned off: there is no
// insecure_skip_verify.
//
//   - tls.ca_file: a PEM bundle. By default it replaces the system's roots (only servers
//     whose chain ends in the bundle are trusted: a private CA, or the CA of a TLS-inspecting
//     proxy); with tls.system_roots: true it is added to them. Without ca_file the system's
//     roots are used.
//   - tls.cert_file and tls.key_file: the client certificate presented when the server asks
//     for one; a renewed pair is picked up without a restart (internal/tlsreload).
//   - proxy: an http://, https:// or socks5:// URL through which every call goes; "" = the
//     environment's HTTPS_PROXY, HTTP_PROXY and NO_PROXY (read when the transport is built,
//     as Go's http.ProxyFromEnvironment reads them; loopback addresses are never proxied).
package outbound

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"golang.org/x/net/http/httpproxy"

	"github.com/cad-sidecar/cad-sidecar/internal/tlsreload"
)

// TLS is a `tls:` section of an outbound call. Paths are PEM files.
type TLS struct {
	CAFile string `koanf:"ca_file"`
	// SystemRoots keeps trusting the system's roots besides CAFile (false: CAFile only).
	SystemRoots bool   `koanf:"system_roots"`
	CertFile    string `koanf:"cert_file"`
	KeyFile     string `koanf:"key_file"`
}

// Config is what a transport is built from.
type Config struct {
	TLS   TLS
	Proxy string
	// Key prefixes the keys named in errors and problems, e.g. "assist" or "cad.rest".
	Key string
}

// Resolve returns t with its relative paths made relative to dir (the config file's folder).
func (t TLS) Resolve(dir string) TLS {
	for _, p := range []*string{&t.CAFile, &t.CertFile, &t.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) && dir != "" {
			*p = filepath.Join(dir, *p)
		}
	}
	return t
}

// Problem is a config problem: the key (relative to the section, e.g. "tls.cert_file",
// "proxy") and what is wrong.
type Problem struct {
	Key, Msg string
}

// Validate checks c without reading files (the paths may still be relative).
func Validate(tls TLS, proxy string) []Problem {
	var ps []Problem
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		ps = append(ps, Problem{"tls.cert_file", "tls.cert_file and tls.key_file go together (the client certificate and its key)"})
	}
	if tls.SystemRoots && tls.CAFile == "" {
		ps = append(ps, Problem{"tls.system_roots", "only means something with tls.ca_file (without it the system's roots are used anyway)"})
	}
	if proxy != "" {
		if _, err := parseProxy(proxy); err != nil {
			ps = append(ps, Problem{"proxy", err.Error()})
		}
	}
	return ps
}

// parseProxy checks an explicit proxy URL.
func parseProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", redact(s), err)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("%q: want an http://, https:// or socks5:// URL (e.g. http://proxy.example.org:3128)", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", u.Redacted())
	}
	return u, nil
}

// redact hides what could be a password in an unparsable URL.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// ClientTLS is the TLS config of c's calls (paths already resolved). A file that cannot be
// read or holds no certificate is an error naming its key.
func ClientTLS(c Config, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	t := c.TLS
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.key("tls.ca_file"), err)
		}
		pool := x509.NewCertPool()
		if t.SystemRoots {
			if pool, err = x509.SystemCertPool(); err != nil {
				return nil, fmt.Errorf("%s: the system's roots: %w", c.key("tls.system_roots"), err)
			}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", c.key("tls.ca_file"), t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		r, err := tlsreload.New(t.CertFile, t.KeyFile, tlsreload.Options{Logger: log, What: c.key("tls.cert_file") + "/" + c.key("tls.key_file")})
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = r.GetClientCertificate
	}
	return cfg, nil
}

// ProxyFunc is the transport's proxy choice: the explicit proxy for every request, or the
// environment's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY and their lower-case forms), read now.
func ProxyFunc(c Config) (func(*http.Request) (*url.URL, error), error) {
	if c.Proxy != "" {
		u, err := parseProxy(c.Proxy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.key("proxy"), err)
		}
		return http.ProxyURL(u), nil
	}
	env := httpproxy.FromEnvironment().ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return env(r.URL) }, nil
}

// Transport is a clone of http.DefaultTransport (its timeouts, HTTP/2) with c's TLS and
// proxy. log receives the client certificate's reloads.
func Transport(c Config, log *slog.Logger) (*http.Transport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc, err := ClientTLS(c, log)
	if err != nil {
		return nil, err
	}
	proxy, err := ProxyFunc(c)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = proxy
	return tr, nil
}

// Describe is what to log about c at start: the files and the proxy (its password hidden),
// never a key's contents.
func Describe(c Config) []any {
	proxy := "environment"
	if c.Proxy != "" {
		proxy = redact(c.Proxy)
	}
	return []any{"ca_file", c.TLS.CAFile, "system_roots", c.TLS.SystemRoots, "cert_file", c.TLS.CertFile, "proxy", proxy}
}

func (c Config) key(k string) string {
	if c.Key == "" {
		return k
	}
	return c.Key + "." + k
}
