// Package push is the CAD adapter for CADs that POST their incidents to the sidecar
// (cad.adapter: push): the CAD's own outbound interface sends incident JSON or XML to
// cad.push.path on the public listener (server.listen).
//
// Each request is authenticated, either by a shared secret header (auth.header with
// auth.token, compared in constant time) or by an HMAC-SHA256 signature: the CAD sends
// auth.hmac.timestamp_header (unix seconds) and auth.hmac.header = "sha256=" + hex of
// HMAC-SHA256(secret, timestamp + "." + body); a timestamp outside auth.hmac.window or a
// wrong signature is 401. The body is decoded (format, items) and handed to the host as
// one AllOrNothing batch: the answer is 2xx only after the host queued the records' links
// durably; if the mapping refuses any record of the request, none is stored and the answer
// is 400 naming the records (index and incident id). The source keeps no cursor.
//
// The push adapter has no sink of its own: notes go through cad.push.sink (an alias of
// cad.sink) — rest, sql or filedrop, configured in its own section.
package push

import (
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Name is the adapter's name in cad.adapter.
const Name = "push"

// Defaults.
const (
	DefaultPath            = "/cad/incidents"
	DefaultFormat          = "json"
	DefaultMaxBody         = ByteSize(1 << 20)
	DefaultTokenHeader     = "X-Cad-Token"
	DefaultSignatureHeader = "X-Signature"
	DefaultTimestampHeader = "X-Timestamp"
	DefaultWindow          = 5 * time.Minute
)

// Config is the cad.push section.
type Config struct {
	// Path is where the CAD POSTs, on the public listener (not assist.webhook.path).
	Path string `koanf:"path"`
	// Format of the body: json | xml.
	Format string `koanf:"format"`
	// Items is the path to the record list inside a body ("" = the body is one record,
	// or, in JSON, a list of records).
	Items string `koanf:"items"`
	// MaxBody: larger bodies are refused with 413.
	MaxBody ByteSize `koanf:"max_body"`
	// Auth is how a request proves it comes from the CAD.
	Auth AuthConfig `koanf:"auth"`
	// Sink names the adapter that writes the notes (rest | sql | filedrop, in its own
	// section): an alias of cad.sink. "" = cad.sink, or read-only when that is unset too.
	Sink string `koanf:"sink"`
}

// AuthConfig is cad.push.auth: exactly one of Token and HMAC.Secret.
type AuthConfig struct {
	// Header carries the shared secret (with Token).
	Header string `koanf:"header"`
	// Token is the shared secret (or token_file).
	Token string     `koanf:"token"`
	HMAC  HMACConfig `koanf:"hmac"`
}

// HMACConfig is cad.push.auth.hmac.
type HMACConfig struct {
	// Secret is the HMAC-SHA256 key (or secret_file).
	Secret string `koanf:"secret"`
	// Header carries "sha256=<hex>".
	Header string `koanf:"header"`
	// TimestampHeader carries the unix time (seconds) the signature covers.
	TimestampHeader string `koanf:"timestamp_header"`
	// Window is how far the timestamp may be from now, either way.
	Window time.Duration `koanf:"window"`
}

// String keeps the secrets out of fmt output.
func (a AuthConfig) String() string {
	if a.HMAC.Secret != "" {
		return "hmac ***"
	}
	if a.Token != "" {
		return "token ***"
	}
	return "none"
}

// SinkName is cad.push.sink (adapters.SinkNamer: the loader takes it as cad.sink).
func (c *Config) SinkName() string { return c.Sink }

// MountedPaths is the path mounted on the public listener (adapters.PathMounter).
func (c *Config) MountedPaths() map[string]string { return map[string]string{"path": c.Path} }

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Path:    DefaultPath,
		Format:  DefaultFormat,
		MaxBody: DefaultMaxBody,
		Auth: AuthConfig{Header: DefaultTokenHeader, HMAC: HMACConfig{
			Header: DefaultSignatureHeader, TimestampHeader: DefaultTimestampHeader, Window: DefaultWindow,
		}},
	}
}

// Factory is the push adapter's Factory (registered as "push").
var Factory = adapters.Define(Name, NewConfig, Validate, func(c *Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
	src, err := New(c, deps)
	if err != nil {
		return nil, nil, err
	}
	return src, nil, nil
})

func init() { adapters.Register(Factory) }

// Interface guards.
var (
	_ adapters.Source      = (*Source)(nil)
	_ adapters.SinkNamer   = (*Config)(nil)
	_ adapters.PathMounter = (*Config)(nil)
)
