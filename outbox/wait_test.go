package outbox

import (
	"sync"
	"testing"
	"time"
)

// chanWait bounds every wait of the tests on a channel: a regression fails with a message
// instead of hanging until the 10-minute test timeout.
const chanWait = 10 * time.Second

// recv waits for a value on ch (or its close) for chanWait at most, else fails the test
// naming what it waited for.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(chanWait):
		t.Fatalf("timed out after %s waiting for %s", chanWait, what)
		var zero T
		return zero
	}
}

// recvOK is recv for a handler's goroutine, where the test cannot be failed: it reports
// whether ch delivered within chanWait.
func recvOK[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	case <-time.After(chanWait):
		return false
	}
}

// waitGroup waits for wg for a minute at most (goroutines calling the store: a deadlock
// must fail the test, not hang it), else fails the test naming what it waited for.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("timed out after 1m waiting for %s", what)
	}
}
