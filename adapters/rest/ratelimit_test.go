package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// TestRateLimitBoundsRequests: rate_limit.max_concurrency bounds the requests in flight
// (detail calls asked 4 at a time get 2), and per_second their rate: 21 requests at 40/s
// with a burst of 1 take at least half a second (a lower bound: a slow machine only adds).
func TestRateLimitBoundsRequests(t *testing.T) {
	api, src, _ := detailSource(t, 20, func(c *Config) {
		c.Poll.Detail.Concurrency = 4
		c.RateLimit = RateLimitConfig{PerSecond: 40, Burst: 1, MaxConcurrency: 2}
	})
	api.SetDetailDelay(10 * time.Millisecond)
	start := time.Now()
	b := pollDurable(t, src, "0")
	elapsed := time.Since(start)
	if len(b.Records) != 20 {
		t.Fatalf("%d records", len(b.Records))
	}
	if m := api.MaxDetailsInFlight(); m > 2 {
		t.Fatalf("%d requests at once, want ≤ 2 (rate_limit.max_concurrency)", m)
	}
	if elapsed < 500*time.Millisecond {
		t.Fatalf("21 requests took %s at 40/s: the rate is not limited", elapsed)
	}
}

// TestRateLimitSharedBySourceAndSink: one cad.rest section's Source and Sink share one
// client, so its limits count polls and notes together.
func TestRateLimitSharedBySourceAndSink(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	src, sink := newTest(t, srv, func(c *Config) { c.RateLimit.PerSecond = 5 })
	if src.cl != sink.cl || src.cl.limit.rate == nil {
		t.Fatal("the Source and the Sink do not share one rate-limited client")
	}
}

// TestPollRetryAfterHonoured: a 429 with Retry-After makes the next poll wait at least
// that long (beyond the schedule and the backoff's cap), not the schedule's second.
func TestPollRetryAfterHonoured(t *testing.T) {
	api, srv := pagedAPI(t, sim.CADAPIOptions{Paging: sim.PageNext}, 3)
	api.Throttle(1, "120")
	src := pagedSource(t, srv, sim.PageNext, func(c *Config) { c.Poll.Schedule = "@every 1s"; c.Poll.MaxBackoff = 5 * time.Second })
	b, err := src.Poll(context.Background(), "0")
	if d, ok := delivery.RetryDelay(err); !ok || d != 120*time.Second {
		t.Fatalf("Poll = %d records, %v: want a RetryAfter(120s) error", len(b.Records), err)
	}
	api.Throttle(1, "120")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan time.Duration, 1)
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(_ context.Context, b adapters.Batch) error {
			if b.Err != nil {
				select {
				case got <- src.poller.Backoff():
				default:
				}
			}
			return nil
		})
	}()
	select {
	case d := <-got:
		if d < 120*time.Second {
			t.Fatalf("after a 429 with Retry-After: 120 the next poll waits %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failed poll emitted within 10s")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop within 10s of its cancel")
	}
}
