package rest

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/time/rate"
)

// limiter bounds the requests toward the CAD (cad.rest.rate_limit): a token bucket of
// per_second with burst, and at most max_concurrency in flight. The Source and the Sink of
// one cad.rest section share one client, so polls, detail calls and notes share the
// limits. The zero limits (nil fields) let everything through.
type limiter struct {
	rate *rate.Limiter
	sem  chan struct{}
}

func newLimiter(c RateLimitConfig) *limiter {
	l := &limiter{}
	if c.PerSecond > 0 {
		burst := c.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(c.PerSecond)))
		}
		l.rate = rate.NewLimiter(rate.Limit(c.PerSecond), burst)
	}
	if c.MaxConcurrency > 0 {
		l.sem = make(chan struct{}, c.MaxConcurrency)
	}
	return l
}

// acquire waits (bounded by ctx) for a request's turn; release ends it.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("rest: waiting for rate_limit.max_concurrency: %w", ctx.Err())
		}
	}
	release = func() {
		if l.sem != nil {
			<-l.sem
		}
	}
	if l.rate != nil {
		if err := l.rate.Wait(ctx); err != nil {
			release()
			return nil, fmt.Errorf("rest: waiting for rate_limit.per_second: %w", err)
		}
	}
	return release, nil
}
