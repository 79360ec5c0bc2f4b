package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// hostAdapter is a CAD integration that uses everything the host gives (contract v2):
// state, metrics, the config folder, a handler on the public listener, the optional
// Provision/Validate/Close, and a Run of its own that emits one batch.
const hostAdapter = "test-host"

type hostSource struct {
	deps    adapters.Deps
	calls   []string
	mu      sync.Mutex
	closed  atomic.Int32
	emitted chan error
}

func (h *hostSource) record(c string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
}

func (h *hostSource) Provision(context.Context) error {
	h.record("provision")
	return h.deps.Mount("/cad/push", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "pushed")
	}))
}

func (h *hostSource) Validate() error { h.record("validate"); return nil }

func (h *hostSource) Close() error { h.closed.Add(1); return nil }

func (h *hostSource) WriteNote(context.Context, adapters.Note) error { return nil }

func (h *hostSource) Run(ctx context.Context, emit adapters.Emit) error {
	h.record("run")
	if err := h.deps.State.Put("mark", "42"); err != nil {
		return err
	}
	// Read from a cursor that is no longer the stored one (an operator's cursor set came
	// in between): the records count, the cursor is not adopted.
	if err := emit(ctx, adapters.Batch{Records: []adapters.Record{rec("HOST-0", "a")}, Cursor: "99", Polled: true, Since: "stale"}); err != nil {
		h.emitted <- err
		return nil
	}
	if c, err := h.deps.Cursor(); err != nil || c != "" {
		h.emitted <- fmt.Errorf("the stale batch's cursor was adopted: %q %v", c, err)
		return nil
	}
	h.emitted <- emit(ctx, adapters.Batch{Records: []adapters.Record{rec("HOST-1", "a")}, Cursor: "7", CursorKind: adapters.CursorSequence})
	<-ctx.Done()
	return nil
}

var registerHost sync.Once

func TestAdapterHostDeps(t *testing.T) {
	src := &hostSource{emitted: make(chan error, 1)}
	registerHost.Do(func() {
		adapters.Register(adapters.Define(hostAdapter, func() *hostSource { return &hostSource{} }, nil,
			func(h *hostSource, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
				h.deps = deps
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cad_sidecar_test_host_total", Help: "test"})
				if err := deps.Registerer.Register(c); err != nil {
					return nil, nil, err
				}
				c.Inc()
				return h, h, nil // one value as Source and Sink: closed once
			}))
	})
	t.Cleanup(func() { // runs after start's cleanup has stopped the sidecar
		if n := src.closed.Load(); n != 1 {
			t.Errorf("Close called %d times at stop, want 1", n)
		}
	})
	e := start(t, envOptions{edit: func(c *config.Config) { c.CAD.Adapter, c.CAD.Settings = hostAdapter, src }})
	select {
	case err := <-src.emitted:
		if err != nil {
			t.Fatalf("emit = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the source did not emit within 10s")
	}
	// emit returned: the link is queued and the cursor stored, durable.
	if c := e.storedCursor(t); c != "7" {
		t.Fatalf("stored cursor %q after emit returned, want 7", c)
	}
	if n := e.metric(t, "cad_sidecar_cad_records_total", "result", "queued"); n != 2 {
		t.Errorf("records queued = %v, want 2 (the stale batch's record counts too)", n)
	}
	if v, ok, err := e.s.Store().Get("adapter/"+hostAdapter, "mark"); err != nil || !ok || v != "42" {
		t.Fatalf("adapter state = %q %v %v, want 42 in bucket adapter/%s", v, ok, err, hostAdapter)
	}
	if src.deps.Dir == "" || src.deps.Cursor == nil || src.deps.Logger == nil {
		t.Fatalf("deps incomplete: %+v", src.deps)
	}
	if n := e.metric(t, "cad_sidecar_test_host_total", "adapter", hostAdapter); n != 1 {
		t.Fatalf("adapter metric with adapter=%s = %v, want 1", hostAdapter, n)
	}
	resp, err := http.Get("http://" + e.s.PublicAddr() + "/cad/push")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pushed" {
		t.Fatalf("mounted handler answered %d %q", resp.StatusCode, b)
	}
	src.mu.Lock()
	calls := append([]string(nil), src.calls...)
	src.mu.Unlock()
	if len(calls) < 3 || calls[0] != "provision" || calls[1] != "validate" || calls[2] != "run" {
		t.Fatalf("calls %v, want provision, validate, run", calls)
	}
}
