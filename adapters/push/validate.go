package push

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// minMaxBody is the smallest max_body accepted.
const minMaxBody = ByteSize(1 << 10)

// Validate checks a decoded cad.push section; keys are relative to it. That path is not
// assist.webhook.path is checked by the config loader (adapters.PathMounter).
func Validate(c *Config) []adapters.Problem {
	var ps []adapters.Problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, adapters.Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	switch {
	case !strings.HasPrefix(c.Path, "/"):
		bad("path", "must start with \"/\", got %q", c.Path)
	case strings.ContainsAny(c.Path, " \t?#{}"):
		bad("path", "must be a plain path (no spaces, query, fragment or {wildcards}), got %q", c.Path)
	case len(c.Path) > 1 && strings.HasSuffix(c.Path, "/"):
		bad("path", "must not end with \"/\" (the path is matched exactly), got %q", c.Path)
	}
	switch record.Format(c.Format) {
	case record.JSON, record.XML:
	default:
		bad("format", "must be json or xml, got %q", c.Format)
	}
	if c.Items != "" {
		if _, err := record.ParsePath(c.Items); err != nil {
			bad("items", "%v", err)
		}
	}
	if c.MaxBody < minMaxBody {
		bad("max_body", "must be at least 1KiB, got %s", c.MaxBody)
	}
	a := c.Auth
	switch {
	case a.Token == "" && a.HMAC.Secret == "":
		bad("auth", "set exactly one of auth.token (or token_file) and auth.hmac.secret (or secret_file)")
	case a.Token != "" && a.HMAC.Secret != "":
		bad("auth", "set only one of auth.token and auth.hmac.secret, not both")
	case a.Token != "":
		if !validHeader(a.Header) {
			bad("auth.header", "must be an HTTP header name, got %q", a.Header)
		}
		if len(a.Token) < 16 {
			bad("auth.token", "must be at least 16 characters (a shared secret the CAD sends)")
		}
	default:
		if len(a.HMAC.Secret) < 16 {
			bad("auth.hmac.secret", "must be at least 16 characters")
		}
		if !validHeader(a.HMAC.Header) {
			bad("auth.hmac.header", "must be an HTTP header name, got %q", a.HMAC.Header)
		}
		if !validHeader(a.HMAC.TimestampHeader) {
			bad("auth.hmac.timestamp_header", "must be an HTTP header name, got %q", a.HMAC.TimestampHeader)
		} else if http.CanonicalHeaderKey(a.HMAC.TimestampHeader) == http.CanonicalHeaderKey(a.HMAC.Header) {
			bad("auth.hmac.timestamp_header", "must differ from auth.hmac.header")
		}
		if a.HMAC.Window <= 0 {
			bad("auth.hmac.window", "must be positive, got %s", a.HMAC.Window)
		}
	}
	if c.Sink == Name {
		bad("sink", "push cannot write notes: name rest, sql or filedrop (its own section), or leave it out for a read-only integration")
	}
	return ps
}

// validHeader reports whether h is a usable header name (an RFC 9110 token).
func validHeader(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if r > 126 || r <= 32 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
