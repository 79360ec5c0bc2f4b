package adapters_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// batches collects what a Source emits.
type batches struct {
	mu  sync.Mutex
	got []adapters.Batch
	ch  chan struct{}
}

func newBatches() *batches { return &batches{ch: make(chan struct{}, 100)} }

func (b *batches) emit(_ context.Context, x adapters.Batch) error {
	b.mu.Lock()
	b.got = append(b.got, x)
	b.mu.Unlock()
	b.ch <- struct{}{}
	return nil
}

func (b *batches) wait(t *testing.T, n int) []adapters.Batch {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		if len(b.got) >= n {
			out := append([]adapters.Batch(nil), b.got...)
			b.mu.Unlock()
			return out
		}
		b.mu.Unlock()
		select {
		case <-b.ch:
		case <-timeout:
			t.Fatalf("waited 10s for %d batches", n)
		}
	}
}

// The first poll runs at once, from the host's cursor, and its batch says where it was read
// from; a failed poll is emitted as Batch.Err; a failed cursor read too.
func TestPollSourceEmits(t *testing.T) {
	cursor, polls := "c1", 0
	var mu sync.Mutex
	poll := func(_ context.Context, c string) (adapters.Batch, error) {
		mu.Lock()
		defer mu.Unlock()
		polls++
		if polls == 2 {
			return adapters.Batch{}, errors.New("cad down")
		}
		return adapters.Batch{Records: []adapters.Record{{"id": c}}, Cursor: c + "+"}, nil
	}
	cur := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if polls == 2 {
			return "", errors.New("store broken")
		}
		return cursor, nil
	}
	p, err := adapters.PollSource(poll, "@every 1s", cur)
	if err != nil {
		t.Fatal(err)
	}
	if p.Schedule() != "@every 1s" {
		t.Fatalf("Schedule() = %q", p.Schedule())
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := newBatches()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, b.emit) }()
	got := b.wait(t, 3)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of the cancel")
	}
	if g := got[0]; !g.Polled || g.Since != "c1" || g.Cursor != "c1+" || len(g.Records) != 1 || g.Err != nil {
		t.Fatalf("first batch %+v", g)
	}
	if g := got[1]; g.Err == nil || g.Polled || len(g.Records) != 0 {
		t.Fatalf("failed poll emitted as %+v, want Err", g)
	}
	if g := got[2]; g.Err == nil || g.Polled {
		t.Fatalf("failed cursor read emitted as %+v, want Err", g)
	}
}

// Run honours ctx: a poll cut short by the stop is not emitted, and Run returns nil.
func TestPollSourceStops(t *testing.T) {
	started := make(chan struct{})
	poll := func(ctx context.Context, _ string) (adapters.Batch, error) {
		close(started)
		<-ctx.Done()
		return adapters.Batch{}, ctx.Err()
	}
	p, err := adapters.PollSource(poll, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Schedule() != adapters.DefaultSchedule {
		t.Fatalf("default schedule %q", p.Schedule())
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := newBatches()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, b.emit) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first poll did not start at once")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run ignored the cancel")
	}
	if len(b.got) != 0 {
		t.Fatalf("a cancelled poll was emitted: %+v", b.got)
	}
}

func TestPollSourceBadSchedule(t *testing.T) {
	if _, err := adapters.PollSource(nil, "every now and then", nil); err == nil {
		t.Fatal("a bad schedule was accepted")
	}
}

type typedConfig struct{ N int }

// Define does the one conversion from any: a *C, a C, and anything else refused.
func TestDefine(t *testing.T) {
	var built *typedConfig
	f := adapters.Define("typed", func() *typedConfig { return &typedConfig{N: 1} },
		func(c *typedConfig) []adapters.Problem {
			if c.N < 0 {
				return []adapters.Problem{{Key: "n", Msg: "negative"}}
			}
			return nil
		},
		func(c *typedConfig, _ adapters.Deps) (adapters.Source, adapters.Sink, error) {
			built = c
			return nil, nil, nil
		})
	cfg := f.NewConfig()
	if c, ok := cfg.(*typedConfig); !ok || c.N != 1 {
		t.Fatalf("NewConfig() = %#v", cfg)
	}
	if p := f.Validate(&typedConfig{N: -1}); len(p) != 1 || p[0].Key != "n" {
		t.Fatalf("Validate = %v", p)
	}
	if p := f.Validate("nope"); len(p) != 1 || p[0].Key != "" {
		t.Fatalf("Validate(wrong type) = %v", p)
	}
	if _, _, err := f.New(typedConfig{N: 7}, adapters.Deps{}); err != nil || built.N != 7 {
		t.Fatalf("New(value) = %v, built %+v", err, built)
	}
	if _, _, err := f.New((*typedConfig)(nil), adapters.Deps{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, _, err := f.New(3, adapters.Deps{}); err == nil {
		t.Fatal("New(wrong type) succeeded")
	}
}

func TestDepsDefaults(t *testing.T) {
	d := adapters.Deps{Dir: "/etc/cad"}
	if got := d.Path("views.sql"); got != "/etc/cad/views.sql" {
		t.Errorf("Path(relative) = %q", got)
	}
	if got := d.Path("/abs/x"); got != "/abs/x" {
		t.Errorf("Path(absolute) = %q", got)
	}
	if d.Log() == nil || d.Metrics() == nil {
		t.Error("no default logger or registerer")
	}
	st := d.Store()
	if err := st.Put("k", "v"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := st.Get("k"); err != nil || !ok || v != "v" {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
	if err := st.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Get("k"); ok {
		t.Fatal("deleted key still there")
	}
}
