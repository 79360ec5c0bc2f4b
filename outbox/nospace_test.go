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
		t.Skipf("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
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
