package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

type enqueueResult struct {
	Bench            string  `json:"bench"`
	Producers        int     `json:"producers"`
	MsgsPerS         float64 `json:"msgs_per_s"`
	BaselineMsgsPerS float64 `json:"baseline_msgs_per_s"`
	Ratio            float64 `json:"ratio"`
	Target           string  `json:"target"`
	OK               bool    `json:"ok"`
}

func (enqueueResult) failed() error { return nil }

func (r enqueueResult) key() float64 { return r.Ratio }

func (r enqueueResult) judge() result {
	r.OK = r.MsgsPerS >= 50_000 && r.Ratio >= enqueueTargetRatio
	return r
}

// runEnqueue: the baseline (one bbolt Update per message) first, then the outbox, both with
// the same producers, payload size, keys and distinct dedup keys, back to back.
func runEnqueue(ctx context.Context, p params) (result, error) {
	dir, err := os.MkdirTemp(p.Dir, "sidecar-bench-enqueue-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Baseline: outbox.BaselineUpdate, one bbolt db.Update (commit + fsync) per message on a
	// plain bbolt file.
	enq, closeBase, err := outbox.BaselineUpdate(filepath.Join(dir, "baseline.db"))
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	stop := p.profile("outbox-enqueue-baseline")
	bn, bel, err := produce(ctx, p, p.EnqueueMsgs, p.EnqueueBaseMax, func(_ context.Context, i int, payload []byte) error {
		return enq(payload)
	})
	stop()
	if cerr := closeBase(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}

	// The outbox.
	s, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{})
	if err != nil {
		return nil, err
	}
	stop = p.profile("outbox-enqueue")
	n, el, err := produce(ctx, p, p.EnqueueMsgs, 0, func(ctx context.Context, i int, payload []byte) error {
		added, err := s.Enqueue(ctx, outbox.TopicNote, "inc-"+strconv.Itoa(i%p.EnqueueKeys), payload, "n-"+strconv.Itoa(i))
		if err == nil && !added {
			err = fmt.Errorf("message %d reported as a duplicate", i)
		}
		return err
	})
	stop()
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}

	r := enqueueResult{
		Bench:            "outbox-enqueue",
		Producers:        p.EnqueueProducers,
		MsgsPerS:         round(float64(n)/el.Seconds(), 0),
		BaselineMsgsPerS: round(float64(bn)/bel.Seconds(), 0),
		Target:           fmt.Sprintf("msgs_per_s>=50000, ratio>=%d", enqueueTargetRatio),
	}
	r.Ratio = ratio(r.MsgsPerS, r.BaselineMsgsPerS)
	p.logf("outbox-enqueue: outbox %d msgs in %s; baseline (outbox.BaselineUpdate: bbolt Update per message) %d msgs in %s",
		n, el.Round(time.Millisecond), bn, bel.Round(time.Millisecond))
	return r, nil
}

// produce runs p.EnqueueProducers goroutines calling fn with message indexes 0..total-1
// (each index once) until all are done, or maxDur has passed (0 = no limit). It returns
// the number of calls completed and the elapsed time.
func produce(ctx context.Context, p params, total int, maxDur time.Duration, fn func(ctx context.Context, i int, payload []byte) error) (int, time.Duration, error) {
	var next, done atomic.Int64
	var stop atomic.Bool
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	var deadline time.Time
	if maxDur > 0 {
		deadline = start.Add(maxDur)
	}
	for range p.EnqueueProducers {
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				if err := fn(ctx, i, notePayload(i, p.PayloadSize)); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return int(done.Load()), el, firstErr
}

// notePayload is a note-like JSON payload of about size bytes, distinct per i.
func notePayload(i, size int) []byte {
	b := make([]byte, 0, size+32)
	b = append(b, `{"callId":"call-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","incidentId":"inc-`...)
	b = strconv.AppendInt(b, int64(i%1000), 10)
	b = append(b, `","note":{"type":"INFO","critical":false,"createdAt":"2026-01-01T10:00:00Z","note":"`...)
	for len(b) < size-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}
