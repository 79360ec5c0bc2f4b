package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
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
	if schedule == "" {
		schedule = DefaultSchedule
	}
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return nil, fmt.Errorf("poll schedule %q: %w", schedule, err)
	}
	return &Poller{poll: poll, spec: schedule, schedule: sched, cursor: cursor}, nil
}

// Schedule is the poll's schedule as given.
func (p *Poller) Schedule() string { return p.spec }

// Poll runs the poll function once.
func (p *Poller) Poll(ctx context.Context, cursor string) (Batch, error) { return p.poll(ctx, cursor) }

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context, emit Emit) error {
	for {
		p.once(ctx, emit)
		next := p.schedule.Next(time.Now())
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
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
		_ = emit(ctx, Batch{Err: fmt.Errorf("poll CAD: %w", err)})
		return
	}
	b.Polled, b.Since = true, cursor
	_ = emit(ctx, b)
}
