// Package rest is the CAD adapter for CADs that expose an HTTP/JSON API (cad.adapter: rest).
//
// The Source polls a list endpoint on a cron schedule, GET base_url+poll.path, takes the
// record list at poll.items and advances a cursor to the maximum of poll.cursor_field over
// the records it got. The Sink writes each note with one request rendered from the
// write_note templates. Both classify failures with the delivery error vocabulary: 2xx is
// success, 408/429 and 5xx and network errors are transient (honouring Retry-After), any
// other 4xx and any template error is permanent.
//
// Vendor APIs: a list that pages is read page by page in one poll (pagination.go; a poll
// cut short by max_pages resumes from Deps.State: resume.go); a list of ids or summaries is
// followed by one detail request per new or changed record (detail.go); OAuth2 client
// credentials or a session login authenticate every request (auth.go); a token bucket and
// a concurrency bound limit them (ratelimit.go). The Source and the Sink share one client
// (client.go), hence its limits and its token.
//
// Templates are Go text/templates with the helpers json (JSON-encode a value, quotes
// included), xml (XML-escape), query (URL-query-escape) and path (URL-path-escape).
// URL templates are safe by default: in poll.path, {{.Cursor}} is already query-escaped
// ({{.RawCursor}} is the cursor as is); in write_note.path every string field of the note
// (e.g. {{.IncidentID}}) is already path-escaped. Applying query or path to such an
// already escaped value does not escape it twice.
package rest

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Name is the adapter's name in cad.adapter.
const Name = "rest"

// Defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultSchedule    = "@every 5s"
	DefaultMethod      = "POST"
	DefaultNotePath    = "/incidents/{{.IncidentID}}/notes"
	DefaultNoteBody    = `{"text": {{json .Text}}, "critical": {{.Critical}}}`
	DefaultContentType = "application/json"
	// Defaults of cad.rest.auth.login.
	DefaultLoginMethod = "POST"
	DefaultLoginBody   = `{"username": {{json .Username}}, "password": {{json .Secret}}}`
	DefaultLoginHeader = "Authorization"
	DefaultLoginFormat = "Bearer {{.Token}}"
	// DefaultPageSize, DefaultMaxPages: cad.rest.poll.pagination.
	DefaultPageSize = 100
	DefaultMaxPages = 50
	// DefaultDetailConcurrency is cad.rest.poll.detail.concurrency.
	DefaultDetailConcurrency = 4
	// DefaultMaxBackoff is cad.rest.poll.max_backoff.
	DefaultMaxBackoff = adapters.DefaultMaxBackoff
)

// Config is the cad.rest section.
type Config struct {
	// BaseURL is the CAD API's absolute http(s) URL; the paths are appended to it.
	BaseURL string `koanf:"base_url"`
	// Headers are sent with every request (e.g. X-Api-Key).
	Headers map[string]string `koanf:"headers"`
	// Auth is optional bearer or basic authentication.
	Auth AuthConfig `koanf:"auth"`
	// Timeout bounds each request, response body included.
	Timeout time.Duration `koanf:"timeout"`
	// Poll says how to fetch changed incidents.
	Poll PollConfig `koanf:"poll"`
	// WriteNote says how to write a note into an incident.
	WriteNote WriteNoteConfig `koanf:"write_note"`
	// TLS is the CA bundle the CAD's certificate must chain to and the client certificate
	// (mutual TLS); Proxy the HTTP proxy ("" = HTTPS_PROXY/HTTP_PROXY/NO_PROXY). Relative
	// paths are relative to the config file's folder. See internal/outbound.
	TLS   outbound.TLS `koanf:"tls"`
	Proxy string       `koanf:"proxy"`
	// RateLimit bounds the requests toward the CAD, polls and notes together.
	RateLimit RateLimitConfig `koanf:"rate_limit"`
}

// RateLimitConfig is cad.rest.rate_limit (ratelimit.go): 0 = no limit.
type RateLimitConfig struct {
	// PerSecond is the maximum request rate toward the CAD (token bucket).
	PerSecond float64 `koanf:"per_second"`
	// Burst is how many requests may go at once after a quiet spell (0 = max(1, PerSecond)).
	Burst int `koanf:"burst"`
	// MaxConcurrency is the most requests in flight at once.
	MaxConcurrency int `koanf:"max_concurrency"`
}

// AuthConfig is cad.rest.auth: at most one of Bearer, Basic, OAuth2 and Login.
type AuthConfig struct {
	Bearer string    `koanf:"bearer"`
	Basic  BasicAuth `koanf:"basic"`
	// OAuth2 is client credentials (auth.go), on when TokenURL is set.
	OAuth2 OAuth2Config `koanf:"oauth2"`
	// Login is a session login (auth.go), on when Path is set.
	Login LoginConfig `koanf:"login"`
}

// OAuth2Config is cad.rest.auth.oauth2: client credentials.
type OAuth2Config struct {
	TokenURL     string   `koanf:"token_url"`
	ClientID     string   `koanf:"client_id"`
	ClientSecret string   `koanf:"client_secret"` // or client_secret_file
	Scopes       []string `koanf:"scopes"`
	// Params are more form parameters of the token request (e.g. audience).
	Params map[string]string `koanf:"params"`
}

// LoginConfig is cad.rest.auth.login: a request that answers a session token.
type LoginConfig struct {
	Method string `koanf:"method"`
	// Path is appended to base_url (or an absolute URL on the CAD's side).
	Path string `koanf:"path"`
	// Body is a template over .Username and .Secret (helpers json, xml, query).
	Body        string `koanf:"body"`
	ContentType string `koanf:"content_type"`
	Username    string `koanf:"username"`
	Secret      string `koanf:"secret"` // or secret_file
	// TokenPath is the dotted path to the token in the (JSON) answer.
	TokenPath string `koanf:"token_path"`
	// Header carries the token, formatted by Format (a template over .Token).
	Header string `koanf:"header"`
	Format string `koanf:"format"`
	// TTL: log in again after this long (0 = only when the CAD answers 401).
	TTL time.Duration `koanf:"ttl"`
}

// BasicAuth is cad.rest.auth.basic.
type BasicAuth struct {
	Username string `koanf:"username"`
	Password string `koanf:"password"`
}

// LogValue keeps the secrets out of logs.
func (a AuthConfig) LogValue() slog.Value {
	switch {
	case a.OAuth2.TokenURL != "":
		return slog.StringValue("oauth2 client " + a.OAuth2.ClientID + ":***")
	case a.Login.Path != "":
		return slog.StringValue("login " + a.Login.Username + ":***")
	case a.Bearer != "":
		return slog.StringValue("bearer ***")
	case a.Basic.Username != "":
		return slog.StringValue("basic " + a.Basic.Username + ":***")
	}
	return slog.StringValue("none")
}

// String keeps the secrets out of fmt output.
func (a AuthConfig) String() string { return a.LogValue().String() }

// PollConfig is cad.rest.poll.
type PollConfig struct {
	// Schedule is a robfig/cron spec ("@every 5s", "*/1 * * * *").
	Schedule string `koanf:"schedule"`
	// Path is a template appended to base_url; data: .Cursor (query-escaped), .RawCursor.
	Path string `koanf:"path"`
	// Format is the answer's format: json (default), xml or csv (see package record).
	Format string `koanf:"format"`
	// Items is the path to the record list in the answer ("" = the body is the list);
	// dotted, [n] for list elements.
	Items string `koanf:"items"`
	// CursorField is the (dotted) record field whose maximum is the next cursor; numbers
	// compare as numbers, anything else as strings. "" = no cursor.
	CursorField string `koanf:"cursor_field"`
	// IDField is the (dotted) field that identifies a listed record: it detects records
	// that shift between pages and keys the detail marks ("" = none; with a detail path,
	// the rendered path identifies the record).
	IDField string `koanf:"id_field"`
	// Pagination says how to get the list's further pages (pagination.go).
	Pagination PaginationConfig `koanf:"pagination"`
	// Detail fetches each new or changed listed record by itself (detail.go).
	Detail DetailConfig `koanf:"detail"`
	// MaxBackoff caps how long polls wait while the CAD keeps failing (adapters.PollSource).
	MaxBackoff time.Duration `koanf:"max_backoff"`
}

// PaginationConfig is cad.rest.poll.pagination: at most one style (Next, LinkHeader,
// Token, PageParam, OffsetParam); none = the answer is the whole list.
type PaginationConfig struct {
	// Next is the dotted path in the answer to the next page's URL (links.next,
	// @odata.nextLink); absolute or relative to the page's URL, on base_url's host.
	Next string `koanf:"next"`
	// LinkHeader takes the next page's URL from the RFC 8288 Link header (rel="next").
	LinkHeader bool `koanf:"link_header"`
	// Token is the dotted path in the answer to a continuation token, sent back in the
	// query parameter TokenParam.
	Token      string `koanf:"token"`
	TokenParam string `koanf:"token_param"`
	// PageParam is the query parameter of the page number (FirstPage, FirstPage+1, …).
	PageParam string `koanf:"page_param"`
	FirstPage int    `koanf:"first_page"`
	// OffsetParam is the query parameter of the offset (0, PageSize, 2·PageSize, …).
	OffsetParam string `koanf:"offset_param"`
	// SizeParam is the query parameter of the page size, sent as PageSize.
	SizeParam string `koanf:"size_param"`
	PageSize  int    `koanf:"page_size"`
	// MaxPages bounds the pages of one poll; the next poll goes on from there.
	MaxPages int `koanf:"max_pages"`
}

// DetailConfig is cad.rest.poll.detail: one GET per new or changed listed record.
type DetailConfig struct {
	// Path is a template over the listed record ("/incidents/{{.Id}}"); "" = no detail calls.
	Path string `koanf:"path"`
	// Items is the dotted path to the record in the detail answer ("" = the answer).
	Items string `koanf:"items"`
	// Into: "" = the detail is the record; a key = the detail is merged under it into the
	// listed record.
	Into string `koanf:"into"`
	// Concurrency is how many detail calls run at once.
	Concurrency int `koanf:"concurrency"`
}

// WriteNoteConfig is cad.rest.write_note. The templates get adapters.Note as data.
type WriteNoteConfig struct {
	Method      string `koanf:"method"`
	Path        string `koanf:"path"`
	Body        string `koanf:"body"`
	ContentType string `koanf:"content_type"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Headers: map[string]string{},
		Timeout: DefaultTimeout,
		Auth: AuthConfig{Login: LoginConfig{Method: DefaultLoginMethod, Body: DefaultLoginBody, ContentType: DefaultContentType,
			Header: DefaultLoginHeader, Format: DefaultLoginFormat}},
		Poll: PollConfig{Schedule: DefaultSchedule, Format: string(record.JSON), MaxBackoff: DefaultMaxBackoff,
			Pagination: PaginationConfig{PageSize: DefaultPageSize, MaxPages: DefaultMaxPages, FirstPage: 1},
			Detail:     DetailConfig{Concurrency: DefaultDetailConcurrency}},
		WriteNote: WriteNoteConfig{
			Method:      DefaultMethod,
			Path:        DefaultNotePath,
			Body:        DefaultNoteBody,
			ContentType: DefaultContentType,
		},
	}
}

func init() {
	f := adapters.Define(Name, NewConfig, Validate, func(c *Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
		src, sink, err := New(c, deps)
		if err != nil {
			return nil, nil, err
		}
		return src, sink, nil
	})
	adapters.Register(adapters.WithSink(f, ValidateSink, func(c *Config, deps adapters.Deps) (adapters.Sink, error) {
		sink, err := NewSink(c, deps)
		if err != nil {
			return nil, err
		}
		return sink, nil
	}))
}

// ValidateSink checks a config used only to write notes (cad.sink: rest with another
// adapter as the source): everything but poll.
func ValidateSink(c *Config) []adapters.Problem { return adapters.WithoutPoll(Validate(c)) }

// NewSink builds the Sink alone (cad.sink: rest); it fails if ValidateSink reports
// problems.
func NewSink(c *Config, deps adapters.Deps) (*Sink, error) {
	_, sink, err := build(c, deps, false)
	return sink, err
}

// New builds the Source and the Sink from a config; it fails if Validate reports problems.
func New(c *Config, deps adapters.Deps) (*Source, *Sink, error) { return build(c, deps, true) }

// build makes the Sink, and the Source when withSource.
func build(c *Config, deps adapters.Deps, withSource bool) (*Source, *Sink, error) {
	probs := Validate(c)
	if !withSource {
		probs = ValidateSink(c)
	}
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.Key + ": " + p.Msg
		}
		return nil, nil, fmt.Errorf("rest: invalid config: %s", strings.Join(msgs, "; "))
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("adapter", Name)
	t, terrs := parseTemplates(c)
	for _, e := range terrs { // cannot happen after Validate (sink only: poll's are not used)
		if withSource || !strings.HasPrefix(e.Key, "poll.") {
			return nil, nil, e
		}
	}
	m := newMetrics(deps.Metrics())
	cl, err := newClient(c, log, deps, m)
	if err != nil {
		return nil, nil, err
	}
	sink := &Sink{cl: cl, method: strings.ToUpper(c.WriteNote.Method), path: t.notePath, body: t.noteBody, contentType: c.WriteNote.ContentType, log: log,
		defaultPath: c.WriteNote.Path == DefaultNotePath, defaultBody: c.WriteNote.Body == DefaultNoteBody}
	if !withSource {
		return nil, sink, nil
	}
	src := &Source{cl: cl, path: t.pollPath, items: c.Poll.Items, format: record.Format(c.Poll.Format), cursorField: c.Poll.CursorField, schedule: c.Poll.Schedule, tolerance: deps.CursorTolerance, log: log,
		pager: newPager(c.Poll.Pagination, c.BaseURL), state: deps.Store(), m: m}
	if f := c.Poll.IDField; f != "" {
		src.identify = func(r adapters.Record) (string, bool) {
			v, ok := record.Lookup(r, f)
			if !ok || v == nil {
				return "", false
			}
			id := cursorString(v)
			return id, id != ""
		}
	}
	if c.Poll.Detail.Path != "" {
		dt, err := parseDetailPath(c.Poll.Detail.Path)
		if err != nil { // cannot happen after Validate
			return nil, nil, fmt.Errorf("rest: poll.detail.path: %w", err)
		}
		d := &detailer{path: dt, items: c.Poll.Detail.Items, into: c.Poll.Detail.Into, conc: c.Poll.Detail.Concurrency,
			format: record.Format(c.Poll.Format), marker: contentMarker, state: src.state, log: log, m: m}
		if f := c.Poll.CursorField; f != "" {
			d.marker = func(r adapters.Record) string {
				if v, ok := record.Lookup(r, f); ok && v != nil {
					return cursorString(v)
				}
				return contentMarker(r)
			}
		}
		if src.identify == nil { // the detail's path identifies the record
			src.identify = func(r adapters.Record) (string, bool) {
				p, err := render(dt, detailData(map[string]any(r)))
				return withoutQuery(p), err == nil && p != ""
			}
		}
		d.ident = src.identify
		src.detail = d
	}
	poller, err := adapters.PollSourceWith(src.Poll, c.Poll.Schedule, deps.Cursor, adapters.PollOptions{Emitted: src.emitted, MaxBackoff: c.Poll.MaxBackoff})
	if err != nil { // cannot happen after Validate
		return nil, nil, fmt.Errorf("rest: poll.schedule: %w", err)
	}
	src.poller = poller
	return src, sink, nil
}
