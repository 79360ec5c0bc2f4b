package rest

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/cad-sidecar/cad-sidecar/adapters"
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
