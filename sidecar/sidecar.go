// Package sidecar wires the pieces into the running service: the CAD poller and link
// delivery (CAD → Assist), the webhook receiver, notes puller and note delivery
// (Assist → CAD), webhook registration, the HTTP listeners and their lifecycle.
package sidecar

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"golang.org/x/net/netutil"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Sidecar is one running instance. Build it with New, then Run it.
type Sidecar struct {
	cfg    *config.Config
	log    *slog.Logger
	store  *outbox.Store
	client *assist.Client
	source adapters.Source
	sink   adapters.Sink
	// readOnly: no CAD sink; notes go to the read-only notes file (readonly.go).
	readOnly bool
	// shadow is the shadow file in shadow mode (shadow.go); nil in normal mode.
	shadow         *shadowFile
	shadowReminder time.Duration
	// mapper is the mapping in use, swapped whole by Reload (reload.go).
	mapper    atomic.Pointer[mapping.Mapper]
	reloading sync.Mutex // serialises Reload (SIGHUP and the admin API at once)
	unparsed  unparsedTimes
	metrics   *Metrics
	gather    prometheus.Gatherer

	receiver *assist.Receiver
	hashes   hashCache
	memo     Memo // raw records already mapped: a steady poll skips their mapping (memo.go)

	polling    sync.Mutex // held by the running CAD poll: polls never overlap
	pendingMu  sync.Mutex // serialises the read-modify-write of kept activations
	registered atomic.Bool
	lastPollOK atomic.Int64 // unix nanos of the last good poll; 0 = none yet
	pollErr    atomic.Pointer[string]
	pollFails  failStreak  // failed polls, logged sparingly (pollfail.go)
	pullFails  pullFails   // failed notes pulls, logged sparingly per kind (pullfail.go)
	writes     writeHealth // the CAD's answers to note writes, for readiness (notehealth.go)
	cursor     cursorGuard // CAD cursors found in the future (cursor.go)

	// callNotes runs the summary fallback and transcripts (callnotes.go).
	callNotes *callNoteRunner

	// history is the outbox over the last hour, for the dashboard (adminapi_history.go).
	history *historyRing

	publicLn, adminLn net.Listener
	tlsConfig         *tls.Config             // of the public listener; nil = plain HTTP (publictls.go)
	mounts            map[string]http.Handler // adapters' handlers on the public listener (Deps.Mount)
	closers           []io.Closer             // adapter parts closed at stop (adapterhost.go)

	version   string    // Options.Version (status)
	startedAt time.Time // when New built it (status)
	trace     *tracer   // the incident trace (trace.go)
}

// Options carry what the host injects.
type Options struct {
	Logger *slog.Logger
	// Registry receives the metrics; nil = a new registry of its own.
	Registry *prometheus.Registry
	// ShadowReminder is how often a shadow-mode sidecar repeats its WARN line (0 = hourly).
	ShadowReminder time.Duration
	// Version is the binary's version, shown by GET /api/v1/status ("" = "dev").
	Version string
}

// New opens the store and builds every component; it starts nothing.
func New(cfg *config.Config, o Options) (*Sidecar, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if p := cfg.AdminTokenProblem(); p != "" {
		return nil, errors.New(p)
	}
	s := &Sidecar{cfg: cfg, log: log, gather: reg, shadowReminder: o.ShadowReminder, version: cmp.Or(o.Version, "dev"), startedAt: time.Now(),
		history: newHistoryRing(cfg.Admin.HistoryInterval)}
	s.mapper.Store(cfg.Mapper)
	s.pollFails.what = "CAD poll"
	source, sink, err := s.buildAdapter(cfg.CAD.Adapter, cfg.CAD.Settings, reg)
	if err != nil {
		return nil, err
	}
	if cfg.CAD.SeparateSink() { // cad.sink: the notes go through another adapter
		if sink, err = s.buildSink(cfg.CAD.Sink, cfg.CAD.SinkSettings, reg); err != nil {
			s.closeAdapters()
			return nil, err
		}
	}
	fail := func(err error) (*Sidecar, error) {
		s.closeAdapters()
		if s.store != nil {
			s.store.Close()
		}
		return nil, err
	}
	if source == nil {
		return fail(fmt.Errorf("cad adapter %s: it has no source", cfg.CAD.Adapter))
	}
	provisioned := sink
	if cfg.Shadowing() {
		provisioned = nil // nothing is provisioned in the CAD for notes that never go there
	}
	if err := s.provision(source, provisioned); err != nil {
		return fail(err)
	}
	if in, ok := source.(interface{ SetInput(record.Options) }); ok && cfg.Mapper != nil {
		in.SetInput(cfg.Mapper.Input()) // mapping.input: encoding, CSV delimiter, limits
	}
	sink = fallbackSink(cfg, log, sink) // no sink: a read-only integration (readonly.go)
	_, readOnly := sink.(*noteFile)
	if cfg.Shadowing() { // shadow mode: notes go to the shadow file (shadow.go)
		name := cfg.CAD.SinkAdapter()
		if readOnly {
			name = readOnlySinkName
		}
		if s.shadow, err = newShadowFile(cfg, name, log); err != nil {
			return fail(err)
		}
		sink, readOnly = shadowSink{s.shadow}, false
	}
	assistTransport, err := outbound.Transport(cfg.Assist.Outbound(), log.With("component", "assist"))
	if err != nil {
		return fail(err)
	}
	if cfg.Assist.TLS != (outbound.TLS{}) || cfg.Assist.Proxy != "" {
		log.Info("assist transport", outbound.Describe(cfg.Assist.Outbound())...)
	}
	client, err := assist.NewClient(assist.ClientOptions{
		BaseURL: cfg.Assist.BaseURL, Token: cfg.Assist.Token, Timeout: cfg.Assist.Timeout,
		Logger: log.With("component", "assist"), LogContent: cfg.Log.Content,
		OnAnswer: s.assistAnswered, Transport: assistTransport,
	})
	if err != nil {
		return fail(fmt.Errorf("assist client: %w", err))
	}
	if s.tlsConfig, err = s.publicTLS(); err != nil {
		return fail(err)
	}
	s.trace = newTracer(log.With("component", "trace"))
	storeOpts := StoreOptions(cfg, log.With("component", "outbox"))
	storeOpts.OnDead = s.outboxDead
	store, err := outbox.Open(StorePath(cfg), storeOpts)
	if err != nil {
		return fail(fmt.Errorf("open outbox: %w", err))
	}
	s.store, s.client, s.source, s.sink, s.readOnly = store, client, source, sink, readOnly
	s.trace.setStore(store)
	s.metrics = newMetrics(reg, store)
	s.callNotes = newCallNoteRunner(s)
	s.registerReady(reg)
	s.registerShadow(reg)
	s.registerUnparsedTimes(reg)
	if n, err := store.AdoptUnlinked(unlinkedActivation, legacyActivations); err != nil {
		return fail(err)
	} else if n > 0 {
		log.Info("kept activations of an earlier version now expire", "calls", n, "after", cfg.Outbox.UnlinkedRetention.String())
	}
	if cfg.PushNotes() {
		s.receiver, err = assist.NewReceiver(assist.ReceiverOptions{
			AuthToken: cfg.Assist.Webhook.AuthToken,
			MaxBody:   int64(cfg.Assist.Webhook.MaxBody),
			Logger:    log.With("component", "webhook"),
			Handle:    s.handleEvent,
			OnRefused: s.metrics.webhookRefused,
		})
		if err != nil {
			return fail(fmt.Errorf("webhook receiver: %w", err))
		}
	}
	return s, nil
}

// StorePath is the bbolt file inside data_dir: sidecar.db, or in shadow mode
// ShadowStoreFile, so that a shadow run's cursor, hashes and links never become a real
// run's.
func StorePath(cfg *config.Config) string {
	if cfg.Shadowing() {
		return cfg.DataDir + "/" + ShadowStoreFile
	}
	return cfg.DataDir + "/sidecar.db"
}

// Store exposes the outbox (demo summary, tests).
func (s *Sidecar) Store() *outbox.Store { return s.store }

// Limits of the admin listener: it is local and small, and has its own connection cap so
// that it keeps answering /healthz and /readyz while the public listener is saturated.
const (
	adminMaxConns       = 32
	adminMaxHeaderBytes = 16 << 10
)

// Listen binds both listeners now, so that a port conflict is reported before anything
// starts and tests can ask for the bound addresses. Each serves a bounded number of
// connections at once (server.max_conns, adminMaxConns): past it, new connections wait in
// the kernel's backlog until one is done, so unauthenticated clients cannot use up the
// process's memory or file descriptors.
func (s *Sidecar) Listen() error {
	if s.publicLn == nil && (s.receiver != nil || len(s.mounts) > 0) {
		ln, err := net.Listen("tcp", s.cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("server.listen %s: %w", s.cfg.Server.Listen, err)
		}
		s.publicLn = ln
		if n := s.cfg.Server.MaxConns; n > 0 { // 0 only in a config not made by config.Load
			s.publicLn = netutil.LimitListener(ln, n)
		}
	}
	if s.adminLn == nil {
		ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
		if err != nil {
			if s.publicLn != nil {
				_ = s.publicLn.Close()
				s.publicLn = nil
			}
			return fmt.Errorf("admin.listen %s: %w", s.cfg.Admin.Listen, err)
		}
		s.adminLn = netutil.LimitListener(ln, adminMaxConns)
	}
	return nil
}

// PublicAddr and AdminAddr are the bound addresses (after Listen).
func (s *Sidecar) PublicAddr() string { return addr(s.publicLn) }

// AdminAddr is the admin listener's bound address.
func (s *Sidecar) AdminAddr() string { return addr(s.adminLn) }

// DashboardURL is the dashboard's address, the admin listener's root
// ("http://127.0.0.1:9090/"; an unspecified host, 0.0.0.0 or ::, as 127.0.0.1). "" before
// Listen.
func (s *Sidecar) DashboardURL() string {
	a := s.AdminAddr()
	if a == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "http://" + a + "/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

func addr(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Run starts every component and blocks until ctx is cancelled or a listener fails; then
// it stops them all (in-flight deliveries finish or are left in the outbox) and closes
// the store.
func (s *Sidecar) Run(ctx context.Context) error {
	defer s.store.Close()
	defer s.closeAdapters()
	if err := s.Listen(); err != nil {
		return err
	}
	removeListenFile, err := s.writeListenFile() // data_dir/listen.json when a port is 0
	if err != nil {
		return err
	}
	defer removeListenFile()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	goOwned := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}

	sched := cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{s.log})), cron.WithLogger(cronLogger{s.log}))
	// Every schedule is added before any goroutine starts, so a bad one returns cleanly.
	if s.cfg.PullNotes() && !s.shadowAll() { // shadow mode all: no call to Assist
		if _, err := sched.AddFunc(s.cfg.Assist.Pull.Schedule, func() { s.pullNotes(ctx) }); err != nil {
			return fmt.Errorf("assist.pull.schedule %q: %w", s.cfg.Assist.Pull.Schedule, err)
		}
	}
	if _, err := sched.AddFunc("@every 1h", func() { s.pruneState(ctx) }); err != nil {
		return fmt.Errorf("state pruning schedule: %w", err)
	}
	goOwned("incident trace", s.trace.run)
	goOwned("link delivery", func(ctx context.Context) error {
		return ignoreCanceled(s.store.Deliver(ctx, outbox.TopicLink, s.deliverLink))
	})
	goOwned("note delivery", func(ctx context.Context) error {
		return ignoreCanceled(s.store.Deliver(ctx, outbox.TopicNote, s.deliverNote))
	})
	goOwned("outbox history", s.runHistory)
	if !s.shadowAll() { // shadow all: no call to Assist, so no call of its own either
		goOwned("call notes", s.callNotes.run)
	}
	switch {
	case s.shadowAll(): // no call to Assist: nothing is registered (readiness says so)
	case s.receiver != nil && s.cfg.Assist.Webhook.Register:
		goOwned("webhook registration", s.registerWebhook)
	default:
		s.setRegistered()
	}

	sched.Start()
	goOwned("CAD source", func(ctx context.Context) error {
		return ignoreCanceled(s.source.Run(ctx, s.emit))
	})

	servers := []*http.Server{s.serve(goOwned, "admin listener", s.adminLn, s.adminHandler(), adminMaxHeaderBytes, adminIdleTimeout)}
	if s.publicLn != nil {
		mux := http.NewServeMux()
		if s.receiver != nil {
			mux.Handle(s.cfg.Assist.Webhook.Path, s.receiver)
		}
		for p, h := range s.mounts {
			mux.Handle(p, h)
		}
		servers = append(servers, s.serve(goOwned, "public listener", s.publicLn, closeOnRefusal(mux), int(s.cfg.Server.MaxHeaderBytes), publicIdleTimeout))
	}
	s.log.Info("sidecar started", "adapter", s.cfg.CAD.Adapter, "sink", s.sinkName(), "notes", s.cfg.Assist.Notes,
		"public", s.PublicAddr(), "admin", s.AdminAddr(), "dashboard", s.DashboardURL(), "data", StorePath(s.cfg))
	if s.shadow != nil { // loud, at start and every hour: it must not be left on by accident
		since := time.Now()
		s.warnShadow(since)
		goOwned("shadow reminder", func(ctx context.Context) error { return s.remindShadow(ctx, s.shadowReminder, since) })
	}

	<-ctx.Done()
	s.log.Info("sidecar stopping", "reason", context.Cause(ctx))
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	<-sched.Stop().Done()
	wg.Wait()
	if parent.Err() != nil {
		return nil // asked to stop: a clean stop
	}
	return context.Cause(ctx) // a component failed
}

// Timeouts of both listeners (README "Webhooks refused"): a client has ReadHeaderTimeout to
// send its headers and ReadTimeout for the whole request, an answer must be written within
// WriteTimeout, and an idle keep-alive connection is closed after the listener's idle
// timeout: 30s on the public listener, whose server.max_conns slots idle connections would
// otherwise hold, 2m on the admin listener.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	publicIdleTimeout = 30 * time.Second
	adminIdleTimeout  = 2 * time.Minute
)

// publicMaxStreams bounds the HTTP/2 streams (requests at once) of one connection of the
// public listener when it serves HTTPS (server.tls_cert); Go's default is 250.
const publicMaxStreams = 16

// serve runs an HTTP server on ln. A request whose header block exceeds maxHeaderBytes is
// answered 431 by net/http without reaching h.
func (s *Sidecar) serve(goOwned func(string, func(context.Context) error), name string, ln net.Listener, h http.Handler, maxHeaderBytes int, idle time.Duration) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	tls := name == "public listener" && s.tlsConfig != nil
	if tls {
		srv.TLSConfig = s.tlsConfig
		// HTTPS turns on HTTP/2, where one connection carries many requests at once: bound
		// them, so that server.max_conns still bounds the requests served at once.
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: publicMaxStreams}
	}
	goOwned(name, func(context.Context) error {
		var err error
		if tls {
			err = srv.ServeTLS(ln, "", "") // the certificate: s.tlsConfig.GetCertificate
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	return srv
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// cronLogger adapts slog to robfig/cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
