package rest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Validate checks a decoded config. Problem keys are relative to cad.rest.
func Validate(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if c.BaseURL == "" {
		add("base_url", "required: the CAD API's URL, e.g. http://cad.local/api")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("base_url", "%q is not an absolute http(s) URL", c.BaseURL)
	}
	for name := range c.Headers {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			add("headers", "%q is not a valid HTTP header name", name)
		}
	}
	if c.Auth.Bearer != "" && (c.Auth.Basic.Username != "" || c.Auth.Basic.Password != "") {
		add("auth", "set either bearer or basic, not both")
	}
	if c.Auth.Basic.Password != "" && c.Auth.Basic.Username == "" {
		add("auth.basic.username", "required when auth.basic.password is set")
	}
	probs = append(probs, validateAuth(c.Auth)...)
	if c.Timeout <= 0 {
		add("timeout", "must be > 0, got %s", c.Timeout)
	}

	switch record.Format(c.Poll.Format) {
	case record.JSON, record.XML:
	case record.CSV:
		if c.Poll.Items != "" {
			add("poll.items", "must be empty with poll.format csv (every row is a record), got %q", c.Poll.Items)
		}
	default:
		add("poll.format", "must be one of json | xml | csv, got %q", c.Poll.Format)
	}
	if c.Poll.Schedule == "" {
		add("poll.schedule", `required: a cron spec such as "@every 5s"`)
	} else if _, err := cron.ParseStandard(c.Poll.Schedule); err != nil {
		add("poll.schedule", "%q is not a valid cron schedule: %v", c.Poll.Schedule, err)
	}
	if c.Poll.Path == "" {
		add("poll.path", `required: the list endpoint, e.g. "/incidents?since={{.Cursor}}"`)
	}

	if c.RateLimit.PerSecond < 0 {
		add("rate_limit.per_second", "must be ≥ 0 (0 = no limit), got %v", c.RateLimit.PerSecond)
	}
	if c.RateLimit.Burst < 0 {
		add("rate_limit.burst", "must be ≥ 0, got %d", c.RateLimit.Burst)
	}
	if c.RateLimit.MaxConcurrency < 0 {
		add("rate_limit.max_concurrency", "must be ≥ 0 (0 = no limit), got %d", c.RateLimit.MaxConcurrency)
	}
	probs = append(probs, validatePagination(c)...)
	if d := c.Poll.Detail; d.Path != "" {
		if _, err := parseDetailPath(d.Path); err != nil {
			add("poll.detail.path", "%q: %v", d.Path, err)
		}
		if d.Concurrency < 1 {
			add("poll.detail.concurrency", "must be ≥ 1, got %d", d.Concurrency)
		}
		if record.Format(c.Poll.Format) == record.CSV {
			add("poll.detail.path", "detail answers are JSON or XML (poll.format), not csv")
		}
	} else if d.Into != "" || d.Items != "" {
		add("poll.detail.path", "required when poll.detail.into or poll.detail.items is set")
	}
	if c.Poll.MaxBackoff <= 0 {
		add("poll.max_backoff", "must be > 0, got %s", c.Poll.MaxBackoff)
	}

	switch strings.ToUpper(c.WriteNote.Method) {
	case "POST", "PUT", "PATCH":
	default:
		add("write_note.method", "%q is not one of POST, PUT, PATCH", c.WriteNote.Method)
	}
	if c.WriteNote.Path == "" {
		add("write_note.path", `required, e.g. "/incidents/{{.IncidentID}}/notes"`)
	}
	if c.WriteNote.ContentType == "" {
		add("write_note.content_type", "required, e.g. application/json")
	}

	_, terrs := parseTemplates(c)
	for _, e := range terrs {
		add(e.Key, "%q: %v", e.Text, e.Err)
	}
	for _, p := range outbound.Validate(c.TLS, c.Proxy) { // tls.*, proxy (client.go)
		add(p.Key, "%s", p.Msg)
	}
	return probs
}

// validatePagination checks cad.rest.poll.pagination.
func validatePagination(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: "poll.pagination" + key, Msg: fmt.Sprintf(format, args...)})
	}
	p := c.Poll.Pagination
	st, n := styleOf(p)
	if n > 1 {
		add("", "set at most one of next, link_header, token, page_param, offset_param")
	}
	if p.MaxPages < 1 {
		add(".max_pages", "must be ≥ 1, got %d", p.MaxPages)
	}
	if p.PageSize < 1 {
		add(".page_size", "must be ≥ 1, got %d", p.PageSize)
	}
	if (p.Token == "") != (p.TokenParam == "") {
		add(".token_param", "token (where the answer holds the continuation token) and token_param (the query parameter it is sent back in) go together")
	}
	if p.SizeParam != "" && st != pageNumber && st != pageOffset {
		add(".size_param", "only with page_param or offset_param")
	}
	if st == pageNumber && p.FirstPage < 0 {
		add(".first_page", "must be ≥ 0, got %d", p.FirstPage)
	}
	if record.Format(c.Poll.Format) == record.CSV && (st == pageNext || st == pageToken) {
		add("", "next and token are read from the answer's body, which a CSV answer cannot hold: use link_header, page_param or offset_param")
	}
	if (st == pageNumber || st == pageOffset) && c.Poll.IDField == "" && c.Poll.Detail.Path == "" {
		probs = append(probs, adapters.Problem{Key: "poll.id_field", Msg: "required with pagination.page_param or offset_param: the field that identifies a listed record, " +
			"so that a record the list shifted between two pages is noticed and the list read again (a skipped record would be lost)"})
	}
	return probs
}

// validateAuth checks cad.rest.auth.oauth2 and cad.rest.auth.login.
func validateAuth(a AuthConfig) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: "auth." + key, Msg: fmt.Sprintf(format, args...)})
	}
	n := 0
	for _, on := range []bool{a.Bearer != "" || a.Basic.Username != "", a.OAuth2.TokenURL != "", a.Login.Path != ""} {
		if on {
			n++
		}
	}
	if n > 1 {
		probs = append(probs, adapters.Problem{Key: "auth", Msg: "set one of bearer, basic, oauth2 and login"})
	}
	o := a.OAuth2
	if o.TokenURL != "" {
		if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("oauth2.token_url", "%q is not an absolute http(s) URL", o.TokenURL)
		}
		if o.ClientID == "" {
			add("oauth2.client_id", "required with auth.oauth2.token_url")
		}
		if o.ClientSecret == "" {
			add("oauth2.client_secret", "required with auth.oauth2.token_url (or client_secret_file)")
		}
	} else if o.ClientID != "" || o.ClientSecret != "" || len(o.Scopes) > 0 {
		add("oauth2.token_url", "required when auth.oauth2 is set: the token endpoint's URL")
	}
	l := a.Login
	if l.Path == "" {
		if l.Username != "" || l.Secret != "" || l.TokenPath != "" {
			add("login.path", "required when auth.login is set: the login request's path, e.g. /login")
		}
		return probs
	}
	switch strings.ToUpper(l.Method) {
	case "POST", "PUT", "GET":
	default:
		add("login.method", "%q is not one of POST, PUT, GET", l.Method)
	}
	if l.TokenPath == "" {
		add("login.token_path", `required: where the answer holds the token, e.g. "session.token"`)
	}
	if l.Header == "" || strings.ContainsAny(l.Header, " \t\r\n:") {
		add("login.header", "%q is not a valid HTTP header name", l.Header)
	}
	if l.TTL < 0 {
		add("login.ttl", "must be ≥ 0 (0 = log in again only on 401), got %s", l.TTL)
	}
	if _, _, err := parseLogin(l); err != nil {
		var te *templateError
		if errors.As(err, &te) {
			probs = append(probs, adapters.Problem{Key: te.Key, Msg: fmt.Sprintf("%q: %v", te.Text, te.Err)})
		}
	}
	return probs
}
