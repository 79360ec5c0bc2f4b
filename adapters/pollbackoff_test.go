package adapters

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// TestPollBackoff: while polls fail, the wait before the next one doubles per failure in a
// row from the schedule's interval (jittered to between half and all of it) up to
// MaxBackoff; the first failure waits only the schedule; a Retry-After longer than all
// that is waited in full; a good poll ends the backoff.
func TestPollBackoff(t *testing.T) {
	fail := true
	var failWith error = errors.New("cad down")
	poll := func(context.Context, string) (Batch, error) {
		if fail {
			return Batch{}, failWith
		}
		return Batch{}, nil
	}
	p, err := PollSourceWith(poll, "@every 1s", nil, PollOptions{MaxBackoff: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	emit := func(context.Context, Batch) error { return nil }
	for i, nominal := range []time.Duration{0, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second} {
		p.once(context.Background(), emit)
		d := p.Backoff()
		if d < nominal/2 || d > nominal {
			t.Fatalf("failure %d: waits %s, want %s..%s", i+1, d, nominal/2, nominal)
		}
		now := time.Now()
		if at := p.nextAt(now); at.Before(now.Add(d)) {
			t.Fatalf("failure %d: next poll at +%s, before the backoff %s", i+1, at.Sub(now), d)
		}
	}
	failWith = delivery.RetryAfter(errors.New("429"), 2*time.Minute)
	p.once(context.Background(), emit)
	now := time.Now()
	if d := p.Backoff(); d < 2*time.Minute {
		t.Fatalf("after Retry-After: 2m the next poll waits %s", d)
	}
	if at := p.nextAt(now); at.Before(now.Add(2 * time.Minute)) {
		t.Fatalf("after Retry-After: 2m the next poll is at +%s", at.Sub(now))
	}
	fail = false
	p.once(context.Background(), emit)
	now = time.Now()
	if d := p.Backoff(); d != 0 {
		t.Fatalf("after a good poll the next waits %s more than the schedule", d)
	}
	if at := p.nextAt(now); at.After(now.Add(time.Second)) {
		t.Fatalf("after a good poll the next is at +%s, beyond the schedule's 1s", at.Sub(now))
	}
}
