package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// countingReloader counts Reload calls and signals each on done.
type countingReloader struct {
	n    atomic.Int32
	done chan struct{}
}

func (r *countingReloader) Reload() error {
	r.n.Add(1)
	r.done <- struct{}{}
	return nil
}

// What each request of the service manager does: Interrogate asks for the status,
// Stop (and Shutdown) closes stop once (a second Stop does not panic), ParamChange asks for
// one reload (a second one while it waits is the same reload), anything else nothing.
func TestServiceControlRequests(t *testing.T) {
	for _, tc := range []struct {
		name       string
		requests   []svcControl
		answer     []bool
		stopped    bool
		reloadsSet int
	}{
		{"interrogate", []svcControl{controlInterrogate}, []bool{true}, false, 0},
		{"stop twice", []svcControl{controlStop, controlStop}, []bool{false, false}, true, 0},
		{"paramchange", []svcControl{controlParamChange}, []bool{false}, false, 1},
		{"paramchange coalesced", []svcControl{controlParamChange, controlParamChange, controlParamChange}, []bool{false, false, false}, false, 1},
		{"other", []svcControl{controlOther}, []bool{false}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newServiceControl()
			for i, c := range tc.requests {
				if got := sc.handle(c); got != tc.answer[i] {
					t.Errorf("request %d (%d): answer status %v, want %v", i, c, got, tc.answer[i])
				}
			}
			select {
			case <-sc.stop:
				if !tc.stopped {
					t.Error("stop closed")
				}
			default:
				if tc.stopped {
					t.Error("stop not closed")
				}
			}
			if got := len(sc.reload); got != tc.reloadsSet {
				t.Errorf("%d reload requests waiting, want %d", got, tc.reloadsSet)
			}
		})
	}
}

// A ParamChange reaches the run's reload loop, which reloads as for SIGHUP and logs why.
func TestParamChangeReloads(t *testing.T) {
	sc := newServiceControl()
	r := &countingReloader{done: make(chan struct{}, 4)}
	var logs bytes.Buffer
	stop := reloadOnSIGHUP(context.Background(), r, slog.New(slog.NewTextHandler(&logs, nil)), sc.reload)
	sc.handle(controlParamChange)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of a ParamChange")
	}
	stop()
	if n := r.n.Load(); n != 1 {
		t.Fatalf("%d reloads, want 1", n)
	}
	if !bytes.Contains(logs.Bytes(), []byte("ParamChange: reloading the mapping")) {
		t.Fatalf("log: %s", logs.String())
	}
}
