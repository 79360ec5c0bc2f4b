package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// writeLoad enqueues messages from 4 goroutines until stop is called and records the
// payloads whose Enqueue returned (acknowledged).
type writeLoad struct {
	mu    sync.Mutex
	acked []string
	stop  func()
}

func startWriteLoad(t *testing.T, s *Store) *writeLoad {
	t.Helper()
	l := &writeLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				p := fmt.Sprintf("w%d-m%06d", w, i)
				ok, err := s.Enqueue(ctx, TopicNote, fmt.Sprintf("INC-%d", i%7), []byte(p))
				if err != nil || !ok {
					if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Enqueue %s: %v %v", p, ok, err)
					}
					return
				}
				l.mu.Lock()
				l.acked = append(l.acked, p)
				l.mu.Unlock()
			}
		}()
	}
	l.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(l.stop)
	return l
}

func (l *writeLoad) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

// A backup taken while writers keep enqueueing is a sound outbox file (Check) holding
// every message acknowledged before it began, with the store's id in the file and in its
// marker; put in place of the original (file and marker), Open accepts it.
func TestBackupUnderWriteLoad(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	load := startWriteLoad(t, s)
	waitFor(t, "200 acknowledged messages", func() bool { return len(load.snapshot()) >= 200 })
	before := load.snapshot()
	dst := filepath.Join(t.TempDir(), "backup.db")
	var info BackupInfo
	r, err := WriteBackup(dst, false, func(w io.Writer) (int64, error) {
		return s.Backup(w, func(i BackupInfo) { info = i })
	})
	if err != nil {
		t.Fatal(err)
	}
	after := len(load.snapshot())
	load.stop()
	if after == len(before) {
		t.Logf("no message was acknowledged during the backup (a quiet machine): the load was before it")
	}
	if !r.Sound() || r.StoreID != s.StoreID() || info.StoreID != s.StoreID() || info.Format != formatVersion {
		t.Fatalf("backup report %+v, info %+v; want sound with store id %s", r, info, s.StoreID())
	}
	if mid, ok, err := readMarker(dst); err != nil || !ok || mid != s.StoreID() {
		t.Fatalf("backup marker: %q %v %v, want %s", mid, ok, err, s.StoreID())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore: the backup and its marker in place of the original.
	for _, f := range [][2]string{{dst, path}, {MarkerPath(dst), MarkerPath(path)}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	restored := openT(t, path, Options{NoBackground: true})
	got := map[string]bool{}
	for _, m := range pending(t, restored, TopicNote) {
		got[string(m.Payload)] = true
	}
	for _, p := range before {
		if !got[p] {
			t.Fatalf("message %s, acknowledged before the backup began, is not in it (%d of %d in the backup)", p, len(got), len(before))
		}
	}
}

// The backup's file can also be put in place with the original marker left as it is: it
// has the same store id.
func TestBackupAcceptedWithOriginalMarker(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	enqueue(t, s, TopicNote, "INC-1", "one")
	dst := filepath.Join(t.TempDir(), "b.db")
	if _, err := WriteBackup(dst, false, func(w io.Writer) (int64, error) { return s.Backup(w, nil) }); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, TopicNote, "INC-1", "two (after the backup)")
	_ = s.Close()
	b, _ := os.ReadFile(dst)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := openT(t, path, Options{NoBackground: true})
	if ms := pending(t, restored, TopicNote); len(ms) != 1 || string(ms[0].Payload) != "one" {
		t.Fatalf("restored pending %v, want just the message of before the backup", ms)
	}
}

// BackupFile copies a stopped store's file read-only; a file held by an open store is
// ErrLocked.
func TestBackupFile(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	enqueue(t, s, TopicNote, "INC-1", "one")
	if _, err := BackupFile(path, io.Discard, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("BackupFile of an open store: %v, want ErrLocked", err)
	}
	id := s.StoreID()
	_ = s.Close()
	orig, _ := os.ReadFile(path)
	dst := filepath.Join(t.TempDir(), "offline.db")
	r, err := WriteBackup(dst, false, func(w io.Writer) (int64, error) { return BackupFile(path, w, nil) })
	if err != nil {
		t.Fatal(err)
	}
	if r.StoreID != id || r.Topics[TopicNote].Pending != 1 {
		t.Fatalf("offline backup %+v, want store id %s and 1 pending note", r, id)
	}
	if now, _ := os.ReadFile(path); string(now) != string(orig) {
		t.Fatal("BackupFile changed the original file")
	}
}

// WriteBackup refuses an existing file unless force, says clearly when it cannot create
// the file, and leaves nothing behind when the copy fails or is not an outbox file.
func TestWriteBackupRefusals(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	copyStore := func(w io.Writer) (int64, error) { return s.Backup(w, nil) }
	dir := t.TempDir()
	dst := filepath.Join(dir, "b.db")
	if err := os.WriteFile(dst, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteBackup(dst, false, copyStore); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing file: %v, want refused", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "precious" {
		t.Fatal("the existing file was changed")
	}
	if _, err := WriteBackup(dst, true, copyStore); err != nil {
		t.Fatalf("--force: %v", err)
	}
	missing := filepath.Join(dir, "no", "such", "folder", "b.db")
	if _, err := WriteBackup(missing, false, copyStore); err == nil || !strings.Contains(err.Error(), "cannot create the backup in "+filepath.Dir(missing)) {
		t.Fatalf("unwritable place: %v", err)
	}
	bad := filepath.Join(dir, "bad.db")
	_, err := WriteBackup(bad, false, func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, "not a bbolt file")
		return int64(n), err
	})
	if err == nil {
		t.Fatal("a copy that is not an outbox file was accepted")
	}
	_, err = WriteBackup(bad, false, func(io.Writer) (int64, error) { return 0, errors.New("connection reset") })
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("failed copy: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "bad.db*"))
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
