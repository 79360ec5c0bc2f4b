package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

type drainResult struct {
	Bench            string  `json:"bench"`
	Messages         int     `json:"messages"`
	Keys             int     `json:"keys"`
	MsgsPerS         float64 `json:"msgs_per_s"`
	BaselineMsgsPerS float64 `json:"baseline_msgs_per_s"`
	Ratio            float64 `json:"ratio"`
	OrderViolations  int64   `json:"order_violations"`
	Target           string  `json:"target"`
	OK               bool    `json:"ok"`
}

// drainTargetRatio: the outbox acknowledges in batches; one bbolt Update per ack is the
// baseline.
const drainTargetRatio = 8

func (r drainResult) key() float64 { return r.Ratio }

func (r drainResult) ratios() (got, target float64) { return r.Ratio, drainTargetRatio }

func (r drainResult) judge() result {
	r.OK = r.MsgsPerS >= 20_000 && r.Ratio >= drainTargetRatio && r.OrderViolations == 0
	return r
}

func (r drainResult) failed() error {
	if r.OrderViolations > 0 {
		return fmt.Errorf("%d per-key order violations", r.OrderViolations)
	}
	return nil
}

// runDrain measures the baseline first (drainBaseline: one bbolt Update per ack), then
// enqueues a backlog of p.DrainMsgs messages over p.DrainKeys keys (not timed; each key's
// messages from one producer, in index order) and times outbox.Deliver (the default
// concurrency, as in the sidecar) until the handler has seen every message. The handler
// checks that each key's messages arrive exactly in index order: a message out of order,
// missing or seen twice is a violation.
func runDrain(ctx context.Context, p params) (result, error) {
	dir, err := os.MkdirTemp(p.Dir, "sidecar-bench-drain-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// The backlog: message j of key k carries "key|j|" and padding up to PayloadSize.
	perKey := make([]int, p.DrainKeys)
	for i := range p.DrainMsgs {
		perKey[i%p.DrainKeys]++
	}

	stopBase := p.profile("drain-baseline")
	bn, bel, err := drainBaseline(ctx, p, dir, perKey)
	stopBase()
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	p.logf("drain: baseline acknowledged %d messages in %s, one bbolt Update each", bn, bel.Round(time.Millisecond))

	s, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	fillStart := time.Now()
	producers := min(p.EnqueueProducers, p.DrainKeys)
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for w := range producers {
		wg.Go(func() {
			for k := w; k < p.DrainKeys; k += producers {
				key := "inc-" + strconv.Itoa(k)
				for j := range perKey[k] {
					if _, err := s.Enqueue(ctx, outbox.TopicNote, key, drainPayload(key, j, p.PayloadSize)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	st, err := s.Stats()
	if err != nil {
		return nil, err
	}
	if st.Pending[outbox.TopicNote] != p.DrainMsgs {
		return nil, fmt.Errorf("fill: %d pending after enqueueing %d", st.Pending[outbox.TopicNote], p.DrainMsgs)
	}
	p.logf("drain: backlog of %d messages over %d keys enqueued in %s (not timed)", p.DrainMsgs, p.DrainKeys, time.Since(fillStart).Round(time.Millisecond))

	var (
		mu         sync.Mutex
		next       = make(map[string]int, p.DrainKeys) // next expected index per key
		violations atomic.Int64
		delivered  atomic.Int64
		badPayload atomic.Int64
	)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	allDone := make(chan struct{})
	handler := func(_ context.Context, m outbox.Message) error {
		key, j, ok := parseDrainPayload(m.Payload)
		if !ok || key != m.Key {
			badPayload.Add(1)
		}
		mu.Lock()
		if j != next[key] {
			violations.Add(1)
		}
		next[key] = j + 1
		mu.Unlock()
		if delivered.Add(1) == int64(p.DrainMsgs) {
			close(allDone)
		}
		return nil
	}
	stopProf := p.profile("drain")
	defer stopProf()
	start := time.Now()
	deliverErr := make(chan error, 1)
	go func() { deliverErr <- s.Deliver(dctx, outbox.TopicNote, handler) }()
	var el time.Duration
	select {
	case <-allDone:
		el = time.Since(start)
		stopProf()
	case err := <-deliverErr:
		return nil, fmt.Errorf("deliver stopped after %d of %d messages: %v", delivered.Load(), p.DrainMsgs, err)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(drainTimeout):
		return nil, fmt.Errorf("deliver: only %d of %d messages after %s", delivered.Load(), p.DrainMsgs, drainTimeout)
	}
	cancel()
	if err := <-deliverErr; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	// Every key must have been seen to its end (a missing tail is a violation too).
	for k := range p.DrainKeys {
		if got := next["inc-"+strconv.Itoa(k)]; got != perKey[k] {
			violations.Add(1)
		}
	}
	if n := badPayload.Load(); n > 0 {
		return nil, fmt.Errorf("%d messages delivered with a payload that does not match their key", n)
	}
	if st, err := s.Stats(); err == nil && st.Pending[outbox.TopicNote] != 0 {
		p.logf("drain: warning: %d messages still pending after every one was handled (acks not committed?)", st.Pending[outbox.TopicNote])
	}
	p.logf("drain: %d messages delivered in %s", delivered.Load(), el.Round(time.Millisecond))

	r := drainResult{
		Bench: "drain", Messages: p.DrainMsgs, Keys: p.DrainKeys,
		MsgsPerS:         round(float64(p.DrainMsgs)/el.Seconds(), 0),
		BaselineMsgsPerS: round(float64(bn)/bel.Seconds(), 0),
		OrderViolations:  violations.Load(),
		Target:           fmt.Sprintf("msgs_per_s>=20000, ratio>=%d, order_violations=0", drainTargetRatio),
	}
	r.Ratio = ratio(r.MsgsPerS, r.BaselineMsgsPerS)
	return r, nil
}

// drainTimeout bounds the timed delivery, so that a stuck Deliver fails the scenario
// instead of hanging the run.
const drainTimeout = 2 * time.Minute

func drainPayload(key string, j, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, key...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(j), 10)
	b = append(b, '|')
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

func parseDrainPayload(b []byte) (key string, j int, ok bool) {
	k, rest, ok1 := bytes.Cut(b, []byte{'|'})
	n, _, ok2 := bytes.Cut(rest, []byte{'|'})
	j, err := strconv.Atoi(string(n))
	return string(k), j, ok1 && ok2 && err == nil
}
