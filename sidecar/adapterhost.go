package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The host side of the adapter contract (adapters.Deps): what each adapter gets, its
// optional interfaces called in order (Provision, then Validate) and Close at stop.

// adapterBucketPrefix namespaces each adapter's own State in the data file.
const adapterBucketPrefix = "adapter/"

// provisionTimeout bounds the Provision of every adapter part.
const provisionTimeout = 30 * time.Second

// adapterState is an adapter's State: a bucket of the outbox's generic state.
type adapterState struct {
	store  *outbox.Store
	bucket string
}

func (a adapterState) Get(key string) (string, bool, error) { return a.store.Get(a.bucket, key) }
func (a adapterState) Put(key, value string) error          { return a.store.Put(a.bucket, key, value) }
func (a adapterState) Delete(key string) error              { return a.store.Delete(a.bucket, key) }

// deps builds the Deps of adapter name. The store is read through s when the adapter uses
// it (it is opened after the adapters are built).
func (s *Sidecar) deps(name string, reg prometheus.Registerer) adapters.Deps {
	dir := ""
	if s.cfg.File != "" {
		dir = filepath.Dir(s.cfg.File)
	}
	return adapters.Deps{
		Logger:          s.log.With("component", "cad"),
		Registerer:      prometheus.WrapRegistererWith(prometheus.Labels{"adapter": name}, reg),
		Dir:             dir,
		State:           lateState{s: s, bucket: adapterBucketPrefix + name},
		Cursor:          s.storedCursor,
		Mount:           s.mount,
		SourceOnly:      s.cfg.CAD.SeparateSink() && name == s.cfg.CAD.Adapter,
		LogContent:      s.cfg.Log.Content,
		CursorTolerance: s.cfg.CAD.CursorTolerance,
	}
}

// lateState is adapterState over s.store, which is opened after the adapters are built.
type lateState struct {
	s      *Sidecar
	bucket string
}

func (l lateState) st() (adapterState, error) {
	if l.s.store == nil {
		return adapterState{}, errors.New("adapter state used before the store is open")
	}
	return adapterState{store: l.s.store, bucket: l.bucket}, nil
}

func (l lateState) Get(key string) (string, bool, error) {
	a, err := l.st()
	if err != nil {
		return "", false, err
	}
	return a.Get(key)
}

func (l lateState) Put(key, value string) error {
	a, err := l.st()
	if err != nil {
		return err
	}
	return a.Put(key, value)
}

func (l lateState) Delete(key string) error {
	a, err := l.st()
	if err != nil {
		return err
	}
	return a.Delete(key)
}

// mount is Deps.Mount: a handler on the public listener, before it starts.
func (s *Sidecar) mount(path string, h http.Handler) error {
	switch {
	case s.publicLn != nil:
		return fmt.Errorf("mount %s: the public listener is already bound", path)
	case !strings.HasPrefix(path, "/") || h == nil:
		return fmt.Errorf("mount %q: want an absolute path and a handler", path)
	case s.cfg.PushNotes() && path == s.cfg.Assist.Webhook.Path:
		return fmt.Errorf("mount %s: the path is assist.webhook.path", path)
	}
	if _, dup := s.mounts[path]; dup {
		return fmt.Errorf("mount %s: mounted twice", path)
	}
	if s.mounts == nil {
		s.mounts = map[string]http.Handler{}
	}
	s.mounts[path] = h
	return nil
}

// buildAdapter builds adapter name from its decoded settings.
func (s *Sidecar) buildAdapter(name string, settings any, reg prometheus.Registerer) (adapters.Source, adapters.Sink, error) {
	f, ok := adapters.Lookup(name)
	if !ok {
		return nil, nil, fmt.Errorf("cad.adapter %q is not registered", name)
	}
	src, sink, err := f.New(settings, s.deps(name, reg))
	if err != nil {
		return nil, nil, fmt.Errorf("cad adapter %s: %w", name, err)
	}
	s.keepClosers(src, sink)
	return src, sink, nil
}

// distinct returns the non-nil parts, each value once (a Source that is also the Sink is
// provisioned and closed once).
func distinct(parts ...any) []any {
	var out []any
next:
	for _, p := range parts {
		if p == nil || (reflect.ValueOf(p).Kind() == reflect.Pointer && reflect.ValueOf(p).IsNil()) {
			continue
		}
		if reflect.TypeOf(p).Comparable() {
			for _, q := range out {
				if reflect.TypeOf(q) == reflect.TypeOf(p) && q == p {
					continue next
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// buildSink builds adapter name in the sink role alone (cad.sink).
func (s *Sidecar) buildSink(name string, settings any, reg prometheus.Registerer) (adapters.Sink, error) {
	f, ok := adapters.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("cad.sink %q is not registered", name)
	}
	if f.NewSink == nil {
		return nil, fmt.Errorf("cad.sink %q cannot write notes on its own", name)
	}
	sink, err := f.NewSink(settings, s.deps(name, reg))
	if err != nil {
		return nil, fmt.Errorf("cad sink %s: %w", name, err)
	}
	s.keepClosers(sink)
	return sink, nil
}

// keepClosers remembers the parts to Close at stop, each distinct value once.
func (s *Sidecar) keepClosers(parts ...any) {
	for _, p := range distinct(parts...) {
		if c, ok := p.(io.Closer); ok {
			s.closers = append(s.closers, c)
		}
	}
}

// provision calls Provision then Validate on each part that implements them.
func (s *Sidecar) provision(parts ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	parts = distinct(parts...)
	for _, p := range parts {
		if pr, ok := p.(adapters.Provisioner); ok {
			if err := pr.Provision(ctx); err != nil {
				return fmt.Errorf("cad adapter %s: provision: %w", s.cfg.CAD.Adapter, err)
			}
		}
	}
	for _, p := range parts {
		if v, ok := p.(adapters.Validator); ok {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("cad adapter %s: validate: %w", s.cfg.CAD.Adapter, err)
			}
		}
	}
	return nil
}

// closeAdapters closes every part kept by keepClosers, once.
func (s *Sidecar) closeAdapters() {
	for _, c := range s.closers {
		if err := c.Close(); err != nil {
			s.log.Warn("closing the CAD adapter failed", "err", err)
		}
	}
	s.closers = nil
}
