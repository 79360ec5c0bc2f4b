package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
)

// minAuthTokenLen keeps the webhook's shared secret out of guessing range.
const minAuthTokenLen = 16

// validate checks the decoded values; it runs after the strict shape check, so every key
// here exists and has the right type.
func (c *Config) validate() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	oneOf(bad, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(bad, "log.format", c.Log.Format, "json", "text")
	if c.Log.MaxSize < MiB || c.Log.MaxSize > 10*GiB {
		bad("log.max_size", "must be between 1MiB and 10GiB, got %s", c.Log.MaxSize)
	}
	if c.Log.MaxFiles < 1 || c.Log.MaxFiles > 1000 {
		bad("log.max_files", "must be between 1 and 1000, got %d", c.Log.MaxFiles)
	}
	checkListen(bad, "server.listen", c.Server.Listen)
	checkListen(bad, "admin.listen", c.Admin.Listen)
	if t := c.Admin.Token; t != "" && len(t) < minAuthTokenLen {
		bad("admin.token", "must be at least %d characters (or leave it out on a loopback admin.listen)", minAuthTokenLen)
	}
	if h := c.Admin.HistoryInterval; h < time.Second || h > 10*time.Minute {
		bad("admin.history_interval", "must be between 1s and 10m, got %s", h)
	}
	if c.Server.MaxHeaderBytes < 4*KiB || c.Server.MaxHeaderBytes > MiB {
		bad("server.max_header_bytes", "must be between 4KiB and 1MiB, got %s", c.Server.MaxHeaderBytes)
	}
	if c.Server.MaxConns < 8 || c.Server.MaxConns > 100_000 {
		bad("server.max_conns", "must be between 8 and 100000, got %d", c.Server.MaxConns)
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		bad("server.tls_cert", "tls_cert and tls_key must be set together")
	}
	if c.Server.ClientCA != "" && c.Server.TLSCert == "" {
		bad("server.client_ca", "needs server.tls_cert and server.tls_key (mutual TLS is TLS with client certificates)")
	}

	a := c.Assist
	checkURL(bad, "assist.base_url", a.BaseURL, true)
	if a.Token == "" {
		bad("assist.token", "is required (the Assist API token; or set assist.token_file or CAD_SIDECAR_ASSIST__TOKEN)")
	}
	if a.Timeout <= 0 {
		bad("assist.timeout", "must be positive, got %s", a.Timeout)
	}
	oneOf(bad, "assist.notes", a.Notes, "push", "pull", "both")
	for _, p := range outbound.Validate(a.TLS, a.Proxy) {
		bad("assist."+p.Key, "%s", p.Msg)
	}
	if c.PushNotes() {
		if len(a.Webhook.AuthToken) < minAuthTokenLen {
			bad("assist.webhook.auth_token", "must be at least %d characters when assist.notes is %q (Assist sends it with every webhook)", minAuthTokenLen, a.Notes)
		}
		if !strings.HasPrefix(a.Webhook.Path, "/") {
			bad("assist.webhook.path", "must start with /, got %q", a.Webhook.Path)
		}
		if a.Webhook.Register {
			checkURL(bad, "server.public_url", c.Server.PublicURL, true)
			if a.Webhook.Events == "" {
				bad("assist.webhook.events", `must not be empty (use "*" for all events)`)
			}
		}
		if a.Webhook.MaxBody < 1024 {
			bad("assist.webhook.max_body", "must be at least 1KiB, got %s", a.Webhook.MaxBody)
		}
	}
	if c.PullNotes() {
		if _, err := cron.ParseStandard(a.Pull.Schedule); err != nil {
			bad("assist.pull.schedule", "%q is not a cron schedule: %v", a.Pull.Schedule, err)
		}
		if a.Pull.Grace < 0 {
			bad("assist.pull.grace", "must not be negative, got %s", a.Pull.Grace)
		}
		if a.Pull.MaxAge < time.Minute {
			bad("assist.pull.max_age", "must be at least 1m, got %s", a.Pull.MaxAge)
		}
	}

	if _, ok := adapters.Lookup(c.CAD.Adapter); !ok {
		bad("cad.adapter", "unknown adapter %q (available: %s)", c.CAD.Adapter, strings.Join(adapters.Names(), ", "))
	}
	if c.CAD.Sink != "" {
		if f, ok := adapters.Lookup(c.CAD.Sink); !ok {
			bad("cad.sink", "unknown adapter %q (available: %s)", c.CAD.Sink, strings.Join(adapters.Names(), ", "))
		} else if c.CAD.SeparateSink() && f.NewSink == nil {
			bad("cad.sink", "adapter %q cannot write notes on its own (leave cad.sink out to use cad.adapter's)", c.CAD.Sink)
		}
	}
	if c.CAD.CursorTolerance < 0 {
		bad("cad.cursor_tolerance", "must not be negative (0 turns the check off), got %s", c.CAD.CursorTolerance)
	}
	if c.CAD.ReadOnly.File == "" {
		bad("cad.readonly.file", "must not be empty (the notes file of a read-only integration, relative to data_dir)")
	}
	if c.CAD.ReadOnly.MaxSize < KiB {
		bad("cad.readonly.max_size", "must be at least 1KiB, got %s", c.CAD.ReadOnly.MaxSize)
	}
	if n := c.CAD.ReadOnly.MaxFiles; n < 1 || n > 1000 {
		bad("cad.readonly.max_files", "must be between 1 and 1000, got %d", n)
	}
	ps = append(ps, c.validateShadow()...)

	o := c.Outbox
	if o.Retry.Initial <= 0 {
		bad("outbox.retry.initial", "must be positive, got %s", o.Retry.Initial)
	}
	if o.Retry.Max < o.Retry.Initial {
		bad("outbox.retry.max", "must be at least outbox.retry.initial (%s), got %s", o.Retry.Initial, o.Retry.Max)
	}
	if o.MaxAge <= 0 {
		bad("outbox.max_age", "must be positive, got %s", o.MaxAge)
	}
	if o.MaxBytes < MiB {
		bad("outbox.max_bytes", "must be at least 1MiB, got %s", o.MaxBytes)
	}
	if o.StateRetention < time.Hour {
		bad("outbox.state_retention", "must be at least 1h, got %s", o.StateRetention)
	}
	if o.UnlinkedRetention < time.Minute {
		bad("outbox.unlinked_retention", "must be at least 1m, got %s", o.UnlinkedRetention)
	}
	if o.UnreadyAfter < 0 {
		bad("outbox.unready_after", "must be 0 (off) or positive, got %s", o.UnreadyAfter)
	}
	if o.Concurrency < 1 || o.Concurrency > 256 {
		bad("outbox.concurrency", "must be between 1 and 256, got %d", o.Concurrency)
	}
	if o.MaxAttempts < 0 || o.MaxAttempts > 1000 {
		bad("outbox.max_attempts", "must be between 0 and 1000 (0 = the default, 8), got %d", o.MaxAttempts)
	}
	if o.UrgentAttempts < 0 || o.UrgentAttempts > 1000 {
		bad("outbox.urgent_attempts", "must be between 0 and 1000 (0 = the default, 3), got %d", o.UrgentAttempts)
	}
	return ps
}

func oneOf(bad func(string, string, ...any), key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	bad(key, "must be one of %s, got %q", strings.Join(allowed, " | "), v)
}

func checkListen(bad func(string, string, ...any), key, v string) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		bad(key, "%q is not a listen address such as :8080 or 127.0.0.1:9090", v)
	}
}

func checkURL(bad func(string, string, ...any), key, v string, required bool) {
	if v == "" {
		if required {
			bad(key, "is required")
		}
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key, "%q is not an absolute http(s) URL", v)
	}
}
