// Package rest is the CAD adapter for CADs that expose an HTTP/JSON API (cad.adapter: rest).
//
// The Source polls a list endpoint on a cron schedule, GET base_url+poll.path, takes the
// record list at poll.items and advances a cursor to the maximum of poll.cursor_field over
// the records it got. The Sink writes each note with one request rendered from the
// write_note templates. Both classify failures with the delivery error vocabulary: 2xx is
// success, 408/429 and 5xx and network errors are transient (honouring Retry-After), any
// other 4xx and any template error is permanent.
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
}

// AuthConfig is cad.rest.auth: at most one of Bearer and Basic.
type AuthConfig struct {
	Bearer string    `koanf:"bearer"`
	Basic  BasicAuth `koanf:"basic"`
}

// BasicAuth is cad.rest.auth.basic.
type BasicAuth struct {
	Username string `koanf:"username"`
	Password string `koanf:"password"`
}

// LogValue keeps the secrets out of logs.
func (a AuthConfig) LogValue() slog.Value {
	switch {
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
		Poll:    PollConfig{Schedule: DefaultSchedule, Format: string(record.JSON)},
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
	cl, err := newClient(c, log, deps)
	if err != nil {
		return nil, nil, err
	}
	sink := &Sink{cl: cl, method: strings.ToUpper(c.WriteNote.Method), path: t.notePath, body: t.noteBody, contentType: c.WriteNote.ContentType, log: log,
		defaultPath: c.WriteNote.Path == DefaultNotePath, defaultBody: c.WriteNote.Body == DefaultNoteBody}
	if !withSource {
		return nil, sink, nil
	}
	src := &Source{cl: cl, path: t.pollPath, items: c.Poll.Items, format: record.Format(c.Poll.Format), cursorField: c.Poll.CursorField, schedule: c.Poll.Schedule, tolerance: deps.CursorTolerance, log: log}
	poller, err := adapters.PollSource(src.Poll, c.Poll.Schedule, deps.Cursor)
	if err != nil { // cannot happen after Validate
		return nil, nil, fmt.Errorf("rest: poll.schedule: %w", err)
	}
	src.poller = poller
	return src, sink, nil
}
