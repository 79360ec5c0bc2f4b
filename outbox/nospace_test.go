package outbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fastProbe makes the disk-full probe run every few milliseconds for the test.
func fastProbe(t *testing.T) {
	t.Helper()
	old := noSpaceProbeEvery
	noSpaceProbeEvery = 10 * time.Millisecond
	t.Cleanup(func() { noSpaceProbeEvery = old })
}

// TestNoSpaceInjected: while every write fails with ENOSPC (injected into the write
// transactions), Enqueue (alone and in a group commit) and the small-state writes return
// errors wrapping ErrNoSpace and ENOSPC, Health says "disk full"; when writes succeed again
// the store recovers by itself (the probe write), with no restart.
func TestNoSpaceInjected(t *testing.T) {
	fastProbe(t)
	s := openT(t, dbPath(t), Options{})
	enqueue(t, s, TopicNote, "INC-1", "before")
	var full atomic.Bool
	fail := func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: s.path, Err: syscall.ENOSPC}
		}
		return nil
	}
	s.failWrite.Store(&fail)
	full.Store(true)

	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Enqueue(context.Background(), TopicNote, "INC-2", []byte("during"))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Enqueue on a full disk: %v, want ErrNoSpace wrapping ENOSPC", err)
		}
	}
	if _, _, err := s.SetCallStatus("call-1", StatusStarted, time.Time{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("SetCallStatus on a full disk: %v", err)
	}
	if err := s.Health(); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "disk full: ") {
		t.Fatalf("Health on a full disk: %v", err)
	}
	if n := stats(t, s).Pending[TopicNote]; n != 1 {
		t.Fatalf("%d pending, want 1 (nothing written while full)", n)
	}

	full.Store(false) // space frees: nothing else writes, the probe notices
	waitFor(t, "Health to recover by itself", func() bool { return s.Health() == nil })
	enqueue(t, s, TopicNote, "INC-2", "after")
	if n := stats(t, s).Pending[TopicNote]; n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	checkFile(t, s, true)
}

// TestNoSpaceTmpfs fills a real 2 MiB tmpfs: Enqueue fails with ErrNoSpace (through
// bbolt's own errors), Health says disk full, and after a file is deleted the store
// recovers by itself. Needs permission to mount (root); skipped otherwise.
func TestNoSpaceTmpfs(t *testing.T) {
	fastProbe(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP-OK: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN; the injected-ENOSPC test still runs): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 768<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", "sidecar.db")
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payload := []byte(strings.Repeat("n", 32<<10))
	var fullErr error
	stored := 0
	for i := 0; i < 200 && fullErr == nil; i++ {
		if _, err := s.Enqueue(context.Background(), TopicNote, "INC-1", payload); err != nil {
			fullErr = err
		} else {
			stored++
		}
	}
	if !errors.Is(fullErr, ErrNoSpace) {
		t.Fatalf("after %d notes: %v, want ErrNoSpace", stored, fullErr)
	}
	if err := s.Health(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Health: %v", err)
	}
	if n := stats(t, s).Pending[TopicNote]; n != stored {
		t.Fatalf("%d pending, %d stored", n, stored)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Health to recover by itself after space freed", func() bool { return s.Health() == nil })
	enqueue(t, s, TopicNote, "INC-1", "after")
	checkFile(t, s, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The file is sound after the failed commits.
	if r, err := Check(path); err != nil || !r.Sound() || r.Topics[TopicNote].Pending != stored+1 {
		t.Fatalf("check after disk full: %v %+v", err, r)
	}
}

// TestNoSpaceHoldsDeliveryOutcomes: a message the destination accepted while the disk is
// full cannot be acked (that is a write); the ack is held and retried, and the message is
// not handed to the handler again meanwhile (the CAD would get the same note every
// RetryInitial). Once space frees the ack commits; nothing was delivered twice.
func TestNoSpaceHoldsDeliveryOutcomes(t *testing.T) {
	fastProbe(t)
	s := openT(t, dbPath(t), Options{RetryInitial: time.Millisecond, RetryMax: time.Millisecond})
	enqueue(t, s, TopicNote, "INC-1", "first")
	enqueue(t, s, TopicNote, "INC-2", "second")
	var full atomic.Bool
	fail := func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: s.path, Err: syscall.ENOSPC}
		}
		return nil
	}
	s.failWrite.Store(&fail)
	full.Store(true)
	var mu sync.Mutex
	calls := map[string]int{}
	gate2 := make(chan struct{})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate2) }) }
	stop := deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		if m.Key == "INC-2" {
			<-gate2 // delivered only after INC-1's ack is held
		}
		mu.Lock()
		calls[m.Key]++
		mu.Unlock()
		return nil
	})
	t.Cleanup(openGate) // runs before deliverBg's stop (last in, first out): a failure does not hang
	waitFor(t, "INC-1's ack to be held", func() bool { return s.heldN.Load() == 1 })
	openGate()
	waitFor(t, "INC-2's ack to be held too", func() bool { return s.heldN.Load() == 2 })
	mu.Lock()
	if calls["INC-1"] != 1 || calls["INC-2"] != 1 {
		t.Fatalf("handler calls %v while the acks were held, want one each", calls)
	}
	mu.Unlock()
	full.Store(false)
	waitFor(t, "the held acks to commit", func() bool { return stats(t, s).Pending[TopicNote] == 0 })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if calls["INC-1"] != 1 || calls["INC-2"] != 1 {
		t.Fatalf("handler calls %v, want one each", calls)
	}
	checkFile(t, s, true)
}

// TestNoSpaceCloseGivesUpHeldOutcomes: Close does not wait for the disk: held acks are
// given up, and their messages are still pending at the next Open.
func TestNoSpaceCloseGivesUpHeldOutcomes(t *testing.T) {
	fastProbe(t)
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "INC-1", "first")
	fail := func() error { return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC} }
	s.failWrite.Store(&fail)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Deliver(ctx, TopicNote, func(context.Context, Message) error { return nil }) }()
	waitFor(t, "the ack to be held", func() bool { return s.heldN.Load() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the held ack")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return within 10s of its ctx's cancellation after Close")
	}
	if n := pendingCount(t, path); n != 1 {
		t.Fatalf("%d pending after reopening, want 1 (the ack was given up)", n)
	}
}

// TestNoSpaceDeliverCancelLeavesHeldPending is the sidecar's shutdown order while the disk
// is full: cancel Deliver's ctx, wait for Deliver, then Close. Deliver returns although
// its ack is held (the ack is given up: the message stays pending, delivered again after
// the restart), and only that Deliver's outcomes are given up: the other topic's held ack
// stays held (and is committed) while its Deliver runs on.
func TestNoSpaceDeliverCancelLeavesHeldPending(t *testing.T) {
	fastProbe(t)
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enqueue(t, s, TopicNote, "INC-1", "note")
	enqueue(t, s, TopicLink, "call-1", "link")
	var full atomic.Bool
	full.Store(true)
	fail := func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
	s.failWrite.Store(&fail)
	ok := func(context.Context, Message) error { return nil }
	noteCtx, cancelNote := context.WithCancel(context.Background())
	defer cancelNote()
	noteDone := make(chan error, 1)
	go func() { noteDone <- s.Deliver(noteCtx, TopicNote, ok) }()
	linkCtx, cancelLink := context.WithCancel(context.Background())
	defer cancelLink()
	linkDone := make(chan error, 1)
	go func() { linkDone <- s.Deliver(linkCtx, TopicLink, ok) }()
	waitFor(t, "both acks to be held", func() bool { return s.heldN.Load() == 2 })

	cancelNote()
	select {
	case err := <-noteDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Deliver(note) returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return within 10s after its ctx was cancelled while its ack is held (disk full): the sidecar's shutdown hangs before Close")
	}
	if n := s.heldN.Load(); n != 1 {
		t.Fatalf("%d outcomes held after the note Deliver returned, want 1 (the link's, whose Deliver runs on)", n)
	}
	select {
	case err := <-linkDone:
		t.Fatalf("Deliver(link) returned %v when the note Deliver was cancelled", err)
	default:
	}
	full.Store(false) // space frees: the link's held ack commits
	waitFor(t, "the link's held ack to commit", func() bool { return len(pending(t, s, TopicLink)) == 0 })
	if ms := pending(t, s, TopicNote); len(ms) != 1 || string(ms[0].Payload) != "note" {
		t.Fatalf("note pending after its Deliver was cancelled: %v, want the note (its ack was given up)", ms)
	}
	full.Store(true)
	cancelLink()
	select {
	case <-linkDone:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver(link) did not return within 10s after its ctx was cancelled")
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s after the Delivers returned (disk full)")
	}
	if n := pendingCount(t, path); n != 1 {
		t.Fatalf("%d notes pending after reopening, want 1 (delivered again after the restart)", n)
	}
}
