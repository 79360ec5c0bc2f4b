package sidecar

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

// A write's context outlives its parent's cancellation by the grace, keeps the parent's
// values, and ends early when released.
func TestInFlightOutlivesStopByGrace(t *testing.T) {
	parent, stop := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	wctx, release := inFlight(parent, 2*time.Second)
	defer release()
	if wctx.Value(ctxKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	stop()
	select {
	case <-wctx.Done():
		t.Fatal("the write's context ended with its parent, not after the grace")
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case <-wctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the write's context did not end after the grace")
	}

	wctx2, release2 := inFlight(context.Background(), time.Hour)
	release2()
	select {
	case <-wctx2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("release did not end the write's context")
	}
}
