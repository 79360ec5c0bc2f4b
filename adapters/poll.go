package adapters

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// PollFunc reads the records changed since cursor ("" on the first read of a fresh
// sidecar). It must honour ctx and never block longer than its configured timeout.
type PollFunc func(ctx context.Context, cursor string) (Batch, error)

// Poller is a Source made of a poll function and a schedule (PollSource). Its Poll is the
// poll function itself, for tests and tools that read once.
type Poller struct {
	poll     PollFunc
	spec     string
	schedule cron.Schedule
	cursor   func() (string, error)
	opts     PollOptions
	// fails counts the polls failed in a row; wait is how long the last failure asks the
	// next poll to wait at least (backoff, Retry-After). Run's goroutine only.
	fails int
	wait  atomic.Int64 // time.Duration
}

// DefaultMaxBackoff caps the wait between polls while the CAD keeps failing.
const DefaultMaxBackoff = 30 * time.Second

// PollOptions tune a PollSource (PollSourceWith).
type PollOptions struct {
	// Emitted, when set, is called after each successful read with its batch and emit's
	// answer (nil = the records and the cursor are durable): a poll function that keeps
	// marks of what it read (the page it stopped at, the details it fetched) stores them
	// here, only once what they cover is durable. It runs before the next poll.
	Emitted func(ctx context.Context, b Batch, emitErr error)
	// MaxBackoff caps the wait after failed polls (0 = DefaultMaxBackoff). While polls fail,
	// the next one waits the schedule's interval doubled per failure in a row, with jitter,
	// at most MaxBackoff — and at least what the CAD asked with Retry-After
	// (delivery.RetryDelay of the poll's error), even beyond MaxBackoff.
	MaxBackoff time.Duration
}

var _ Source = (*Poller)(nil)

// DefaultSchedule is the poll schedule of a PollSource given none.
const DefaultSchedule = "@every 5s"

// PollSource turns a poll function and a robfig/cron schedule ("@every 5s", "*/1 * * * *";
// "" = DefaultSchedule) into a Source: the first poll runs at once, the next at each tick;
// polls never overlap (a tick that comes while a poll runs is skipped); each poll reads
// from the host's stored cursor (cursor, normally Deps.Cursor; nil = always "") and emits
// its batch (Polled, Since set), or Batch.Err when it failed.
func PollSource(poll PollFunc, schedule string, cursor func() (string, error)) (*Poller, error) {
	return PollSourceWith(poll, schedule, cursor, PollOptions{})
}

// PollSourceWith is PollSource with options.
func PollSourceWith(poll PollFunc, schedule string, cursor func() (string, error), o PollOptions) (*Poller, error) {
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if schedule == "" {
		schedule = DefaultSchedule
	}
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return nil, fmt.Errorf("poll schedule %q: %w", schedule, err)
	}
	return &Poller{poll: poll, spec: schedule, schedule: sched, cursor: cursor, opts: o}, nil
}

// Schedule is the poll's schedule as given.
func (p *Poller) Schedule() string { return p.spec }

// Poll runs the poll function once.
func (p *Poller) Poll(ctx context.Context, cursor string) (Batch, error) { return p.poll(ctx, cursor) }

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context, emit Emit) error {
	for {
		p.once(ctx, emit)
		t := time.NewTimer(time.Until(p.nextAt(time.Now())))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// nextAt is when the poll after one that ended at now runs: the schedule's next tick, or
// — while polls fail — the first tick once the backoff (or Retry-After) has passed.
func (p *Poller) nextAt(now time.Time) time.Time {
	next := p.schedule.Next(now)
	if at := now.Add(time.Duration(p.wait.Load())); at.After(next) {
		next = p.schedule.Next(at.Add(-time.Nanosecond))
	}
	return next
}

// once runs one poll and emits it; an emit error is the host's to report (it already did),
// and the same records are read again at the next tick.
func (p *Poller) once(ctx context.Context, emit Emit) {
	if ctx.Err() != nil {
		return
	}
	cursor := ""
	if p.cursor != nil {
		c, err := p.cursor()
		if err != nil {
			_ = emit(ctx, Batch{Err: fmt.Errorf("read CAD cursor: %w", err)})
			return
		}
		cursor = c
	}
	b, err := p.poll(ctx, cursor)
	if ctx.Err() != nil {
		return // stopping: a poll cut short is no failure
	}
	if err != nil {
		p.failed(err)
		_ = emit(ctx, Batch{Err: fmt.Errorf("poll CAD: %w", err)})
		return
	}
	p.fails = 0
	p.wait.Store(0)
	b.Polled, b.Since = true, cursor
	eerr := emit(ctx, b)
	if p.opts.Emitted != nil {
		p.opts.Emitted(ctx, b, eerr)
	}
}

// failed counts a failed poll and sets how long the next one waits at least: the
// schedule's interval times 2^(failures-1), jittered to between half and all of it, capped
// at MaxBackoff; and no less than the Retry-After the CAD sent. The first failure waits
// no more than the schedule would.
func (p *Poller) failed(err error) {
	p.fails++
	now := time.Now()
	interval := p.schedule.Next(now).Sub(now)
	if n := p.schedule.Next(now.Add(interval)).Sub(now.Add(interval)); n > interval {
		interval = n // the next tick may be close; take the spacing of ticks
	}
	var d time.Duration
	if p.fails > 1 {
		d = interval << min(p.fails-1, 20)
		if d <= 0 || d > p.opts.MaxBackoff {
			d = p.opts.MaxBackoff
		}
		d = d/2 + rand.N(d/2+1)
	}
	if ra, ok := delivery.RetryDelay(err); ok && ra > d {
		d = ra
	}
	p.wait.Store(int64(d))
}

// Backoff is how long the next poll waits at least because of failed polls (0 when the
// last poll succeeded); for tests and tools.
func (p *Poller) Backoff() time.Duration { return time.Duration(p.wait.Load()) }
