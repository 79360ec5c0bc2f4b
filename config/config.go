// Package config loads the sidecar's one YAML file: defaults first, then the YAML, then
// CAD_SIDECAR_* environment overrides, then *_file secrets; then a strict check (unknown
// keys, wrong types) and a validation pass. Every problem is reported with its key path and
// the line of the file it came from, all at once, so an operator fixes a config in one go.
package config

import (
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// Config is the whole configuration. Field tags are the YAML keys of DESIGN.md.
type Config struct {
	DataDir string         `koanf:"data_dir"`
	Log     LogConfig      `koanf:"log"`
	Server  ServerConfig   `koanf:"server"`
	Admin   AdminConfig    `koanf:"admin"`
	Assist  AssistConfig   `koanf:"assist"`
	CAD     CADConfig      `koanf:"cad"`
	Mapping mapping.Config `koanf:"mapping"`
	Outbox  OutboxConfig   `koanf:"outbox"`
	Shadow  ShadowConfig   `koanf:"shadow"`

	// File is the absolute path of the file the config was loaded from.
	File string `koanf:"-"`
	// Mapper is Mapping compiled at load time.
	Mapper *mapping.Mapper `koanf:"-"`
	// Warnings are what loading could not check (mapping.Mapper.Warnings): `validate`
	// prints them; they do not make the config unusable.
	Warnings Problems `koanf:"-"`
}

// LogConfig is the `log:` section.
type LogConfig struct {
	Level  string `koanf:"level"`  // debug | info | warn | error
	Format string `koanf:"format"` // json | text
	// Content logs what the CAD or Assist answered to a failed request (which may echo
	// note text or caller data) at info instead of debug. Off by default.
	Content bool `koanf:"content"`
	// File, when set, sends the log to this file (relative to the config file's folder)
	// instead of stderr, rotated at MaxSize keeping MaxFiles old files: for a Windows
	// service, which has no journald, or any host without a log collector.
	File     string   `koanf:"file"`
	MaxSize  ByteSize `koanf:"max_size"`  // rotate log.file when it reaches this size (MiB granularity)
	MaxFiles int      `koanf:"max_files"` // rotated files kept besides the current one
}

// ServerConfig is the public listener that receives Assist's webhooks.
type ServerConfig struct {
	Listen    string `koanf:"listen"`
	PublicURL string `koanf:"public_url"` // how Assist reaches this listener (targetUrl = public_url + webhook path)
	TLSCert   string `koanf:"tls_cert"`   // optional: serve HTTPS with this certificate (PEM) ...
	TLSKey    string `koanf:"tls_key"`    // ... and key; both or neither
	// ClientCA, when set (with tls_cert), turns on mutual TLS: every client must present a
	// certificate that chains to this PEM bundle (Assist's, the CAD's for cad.push).
	ClientCA string `koanf:"client_ca"`
	// MaxHeaderBytes bounds a request's header block; beyond it Go answers 431.
	MaxHeaderBytes ByteSize `koanf:"max_header_bytes"`
	// MaxConns bounds the connections served at once; more wait in the kernel's backlog.
	MaxConns int `koanf:"max_conns"`
}

// AdminConfig is the admin listener (health, readiness, metrics, admin API).
type AdminConfig struct {
	Listen string `koanf:"listen"`
	// Token, when set, is required as "Authorization: Bearer <token>" by every admin path
	// but /healthz and /readyz (and /metrics when MetricsPublic); it is required whenever
	// Listen is not a loopback address (see AdminTokenProblem). Or token_file.
	Token string `koanf:"token"`
	// MetricsPublic serves /metrics without the token (a Prometheus that cannot send one).
	MetricsPublic bool `koanf:"metrics_public"`
	// HistoryInterval is how often the dashboard's outbox history (GET /api/v1/history,
	// the last hour, kept in memory) takes a sample.
	HistoryInterval time.Duration `koanf:"history_interval"`
}

// AssistConfig is the `assist:` section.
type AssistConfig struct {
	BaseURL string        `koanf:"base_url"`
	Token   string        `koanf:"token"`
	Timeout time.Duration `koanf:"timeout"`
	Notes   string        `koanf:"notes"` // push | pull | both
	Webhook WebhookConfig `koanf:"webhook"`
	Pull    PullConfig    `koanf:"pull"`
	// TLS is the CA bundle Assist's certificate must chain to and the client certificate
	// for mutual TLS; Proxy the HTTP proxy of the calls to Assist ("" = HTTPS_PROXY,
	// HTTP_PROXY and NO_PROXY from the environment). See internal/outbound.
	TLS   outbound.TLS `koanf:"tls"`
	Proxy string       `koanf:"proxy"`
}

// Outbound is the transport config of the calls to Assist.
func (a AssistConfig) Outbound() outbound.Config {
	return outbound.Config{TLS: a.TLS, Proxy: a.Proxy, Key: "assist"}
}

// WebhookConfig is `assist.webhook`.
type WebhookConfig struct {
	Register  bool     `koanf:"register"`
	Events    string   `koanf:"events"`
	AuthToken string   `koanf:"auth_token"`
	Path      string   `koanf:"path"`
	MaxBody   ByteSize `koanf:"max_body"`
}

// PullConfig is `assist.pull`: how linked calls are polled for notes in pull/both mode.
type PullConfig struct {
	Schedule string        `koanf:"schedule"` // robfig/cron spec
	Grace    time.Duration `koanf:"grace"`    // keep polling this long after a call ENDED
	// MaxAge stops polling a call this long after it was linked when no ENDED status came
	// (in pull-only mode none ever comes: there is no webhook).
	MaxAge time.Duration `koanf:"max_age"`
}

// CADConfig is the `cad:` section. Adapter selects the integration; its own section
// (cad.rest, cad.sql, ...) is decoded into Settings by the adapter's Factory. Sink may
// select another adapter for the notes.
type CADConfig struct {
	Adapter string `koanf:"adapter"`
	// Sink names the adapter that writes notes when it is not Adapter (e.g. incidents from
	// cad.sql, notes through cad.rest); "" = Adapter's own sink. Its section is decoded
	// into SinkSettings and checked for the sink role only (no poll needed).
	Sink         string `koanf:"sink"`
	SinkSettings any    `koanf:"-"`
	// CursorTolerance: a poll cursor that reads as a time later than now plus this is not
	// adopted (a CAD record with a wrong clock must not stop all new links); 0 = no check.
	CursorTolerance time.Duration `koanf:"cursor_tolerance"`
	// ReadOnly is where notes go when the adapter writes none (a read-only integration).
	ReadOnly ReadOnlyConfig `koanf:"readonly"`
	Settings any            `koanf:"-"`
}

// SinkAdapter is the adapter that writes notes: cad.sink, or cad.adapter when it is unset.
func (c CADConfig) SinkAdapter() string {
	if c.Sink != "" {
		return c.Sink
	}
	return c.Adapter
}

// SeparateSink reports whether the notes go through another adapter than the source.
func (c CADConfig) SeparateSink() bool { return c.Sink != "" && c.Sink != c.Adapter }

// ReadOnlyConfig is `cad.readonly`: the file that receives the rendered notes of a
// read-only integration (an adapter with no sink, e.g. cad.sql without write_note). It
// holds note text, which is caller data: it is created 0600.
type ReadOnlyConfig struct {
	// File is the notes file, JSON lines; relative to data_dir.
	File string `koanf:"file"`
	// MaxSize rotates the file before a line would take it past this size.
	MaxSize ByteSize `koanf:"max_size"`
	// MaxFiles is how many rotated files (file.1 … file.N) are kept.
	MaxFiles int `koanf:"max_files"`
}

// Shadow modes (shadow.mode, `run --shadow[=cad|all]`).
const (
	ShadowOff = "off" // normal operation
	ShadowCAD = "cad" // nothing is written into the CAD: notes go to shadow.file; links go to Assist
	ShadowAll = "all" // no write into the CAD and no call to Assist: links and notes go to shadow.file
)

// ShadowConfig is the `shadow:` section: a go-live rehearsal against the production CAD
// that writes nothing into it. What would have been sent goes to File, JSON lines, which
// `cad-sidecar shadow report` summarises. The file holds note text (caller data): it is
// created 0600.
type ShadowConfig struct {
	// Mode is off | cad | all; `run --shadow[=cad|all]` overrides it.
	Mode string `koanf:"mode"`
	// File is the shadow file, JSON lines; relative to data_dir.
	File string `koanf:"file"`
	// MaxSize rotates the file before a line would take it past this size.
	MaxSize ByteSize `koanf:"max_size"`
	// MaxFiles is how many rotated files (file.1 … file.N) are kept.
	MaxFiles int `koanf:"max_files"`
}

// Shadowing reports whether the sidecar runs in a shadow mode (cad or all).
func (c *Config) Shadowing() bool { return c.Shadow.Mode == ShadowCAD || c.Shadow.Mode == ShadowAll }

// OutboxConfig is the `outbox:` section.
type OutboxConfig struct {
	Retry       RetryConfig   `koanf:"retry"`
	MaxAge      time.Duration `koanf:"max_age"`
	MaxBytes    ByteSize      `koanf:"max_bytes"`
	Concurrency int           `koanf:"concurrency"`
	// MaxAttempts: a note (or link) that keeps failing transiently while the CAD (Assist)
	// accepts others is given up after this many strikes: failures with another note
	// accepted since its previous failure (0 = the default, 8).
	MaxAttempts int `koanf:"max_attempts"`
	// UrgentAttempts: the same, sooner, when a critical note waits behind it; and after
	// this many failures of a lone incident's note the note behind it is sent ahead as the
	// proof (0 = 3).
	UrgentAttempts int `koanf:"urgent_attempts"`
	// StateRetention is how long an incident's link, content hash and notes cursor are
	// kept after its last change (or its call's end).
	StateRetention time.Duration `koanf:"state_retention"`
	// UnlinkedRetention is how long a call status or an assistant activation that came
	// before its call was linked is kept waiting for the link.
	UnlinkedRetention time.Duration `koanf:"unlinked_retention"`
	// UnreadyAfter: /readyz turns not ready (check cad_write) when the CAD has refused or
	// failed every note write for this long while notes wait (0 = off).
	UnreadyAfter time.Duration `koanf:"unready_after"`
}

// RetryConfig is `outbox.retry`: capped exponential backoff with jitter.
type RetryConfig struct {
	Initial time.Duration `koanf:"initial"`
	Max     time.Duration `koanf:"max"`
}

// Default returns the configuration every file starts from.
func Default() Config {
	c := Config{
		DataDir: "./data",
		Log:     LogConfig{Level: "info", Format: "json", MaxSize: 100 * MiB, MaxFiles: 10},
		Server:  ServerConfig{Listen: ":8080", MaxHeaderBytes: 32 * KiB, MaxConns: 256},
		Admin:   AdminConfig{Listen: "127.0.0.1:9090"},
		Assist: AssistConfig{
			Timeout: 10 * time.Second,
			Notes:   "push",
			Webhook: WebhookConfig{Register: true, Events: "*", Path: "/webhookhandler/cad", MaxBody: MiB},
			Pull:    PullConfig{Schedule: "@every 5s", Grace: 10 * time.Minute, MaxAge: 6 * time.Hour},
		},
		CAD: CADConfig{Adapter: "rest", CursorTolerance: 5 * time.Minute,
			ReadOnly: ReadOnlyConfig{File: "notes.jsonl", MaxSize: 64 * MiB, MaxFiles: 5}},
		Outbox: OutboxConfig{
			Retry:          RetryConfig{Initial: time.Second, Max: 5 * time.Minute},
			MaxAge:         72 * time.Hour,
			MaxBytes:       GiB,
			Concurrency:    8,
			MaxAttempts:    8,
			UrgentAttempts: 3,
			StateRetention: 30 * 24 * time.Hour,
		},
	}
	c.Outbox.UnlinkedRetention = 24 * time.Hour
	c.Shadow = ShadowConfig{Mode: ShadowOff, File: "shadow.jsonl", MaxSize: 64 * MiB, MaxFiles: 10}
	c.Outbox.UnreadyAfter = 5 * time.Minute
	c.Admin.HistoryInterval = 30 * time.Second
	c.Mapping.SetDefaults()
	return c
}

// PushNotes reports whether notes arrive by webhook (push or both).
func (c *Config) PushNotes() bool { return c.Assist.Notes == "push" || c.Assist.Notes == "both" }

// PullNotes reports whether notes are polled (pull or both).
func (c *Config) PullNotes() bool { return c.Assist.Notes == "pull" || c.Assist.Notes == "both" }
