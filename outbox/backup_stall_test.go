package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stallWriter takes the first write and then blocks until release is closed: a backup
// client that stopped reading (a paused curl, a dead link before the TCP timeout).
type stallWriter struct {
	first   chan struct{}
	release chan struct{}
	n       int
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		close(w.first)
	}
	w.n++
	<-w.release
	return len(p), nil
}

// A backup whose reader stalls must not stall the writer: webhooks are acknowledged only
// once their note is committed, so a slow backup client must not hold up every note.
// (bbolt's mmap cannot grow while a read transaction is open, and Store.Backup streams
// the whole file to the client from inside one.)
func TestBackupToStalledClientDoesNotBlockWrites(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	w := &stallWriter{first: make(chan struct{}), release: make(chan struct{})}
	backupDone := make(chan error, 1)
	go func() {
		_, err := s.Backup(w, nil)
		backupDone <- err
	}()
	defer func() {
		close(w.release)
		select {
		case <-backupDone:
		case <-time.After(30 * time.Second):
			t.Error("backup did not end after its client was released")
		}
	}()
	select {
	case <-w.first:
	case <-time.After(10 * time.Second):
		t.Fatal("backup never started writing")
	}
	// 8 MiB of notes: more than the file's mapping holds, so the file must grow.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enqDone := make(chan error, 1)
	go func() {
		payload := strings.Repeat("x", 64<<10)
		for i := range 128 {
			if _, err := s.Enqueue(ctx, TopicNote, fmt.Sprintf("INC-%d", i%8), []byte(payload)); err != nil {
				enqDone <- err
				return
			}
		}
		enqDone <- nil
	}()
	select {
	case err := <-enqDone:
		if err != nil {
			t.Fatalf("enqueue during a stalled backup: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("notes could not be enqueued for 20 s while a backup client stalled: the outbox writer waits on the backup's read transaction")
	}
}

// The staged copy of a backup is removed when the backup ends, and one left behind by a
// crash is removed by the next backup: nothing piles up beside the data file.
func TestBackupLeavesNoStagedCopy(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	stale := path + ".backup-123.tmp"
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if _, err := s.Backup(&out, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		t.Fatal("the backup wrote nothing")
	}
	left, err := filepath.Glob(path + stagePattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("staged copies left beside the data file: %v", left)
	}
}
