package rest

import (
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
