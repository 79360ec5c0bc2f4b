package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fillStore creates a store at path with n notes (keys INC-0..INC-4) and closes it.
func fillStore(t *testing.T, path string, n int) {
	t.Helper()
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range n {
		enqueue(t, s, TopicNote, "INC-"+string(rune('0'+i%5)), notePayload(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// notePayload is note i's payload: a findable marker, padded so that a page holds a few.
func notePayload(i int) string {
	return "note-" + pad4(i) + "|" + strings.Repeat("x", 300)
}

func pad4(i int) string {
	s := "000" + itoa(i)
	return s[len(s)-4:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func pendingCount(t *testing.T, path string) int {
	t.Helper()
	s := openT(t, path, Options{})
	n := stats(t, s).Pending[TopicNote]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenRefusesMissingOrEmptyFile: with the marker present, a missing, empty (0 bytes) or
// blank (new bbolt file) data file is refused with ErrStoreReplaced naming the file and the
// marker and saying the notes would be lost; nothing is created, and restoring the file
// brings the notes back. Without the marker (started over on purpose) an empty outbox opens.
func TestOpenRefusesMissingOrEmptyFile(t *testing.T) {
	cases := []struct {
		name, want string
		damage     func(t *testing.T, path string)
	}{
		{"missing", "is missing", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", "is empty (0 bytes)", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"blank", "is a new, blank file", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := dbPath(t)
			fillStore(t, path, 300)
			saved, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, path)
			before, _ := os.ReadFile(path)
			_, err = Open(path, Options{Logger: testLogger(t)})
			if !errors.Is(err, ErrStoreReplaced) {
				t.Fatalf("Open: %v, want ErrStoreReplaced", err)
			}
			for _, w := range []string{path, c.want, MarkerPath(path), "would be lost", "outbox salvage", "delete " + MarkerPath(path)} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("a refused Open changed the data file")
			}
			// Restoring the file brings the notes back.
			if err := os.WriteFile(path, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			if n := pendingCount(t, path); n != 300 {
				t.Fatalf("after restoring the file: %d pending, want 300", n)
			}
			// Starting over on purpose: delete the marker.
			c.damage(t, path)
			if err := os.Remove(MarkerPath(path)); err != nil {
				t.Fatal(err)
			}
			if n := pendingCount(t, path); n != 0 {
				t.Fatalf("after starting over: %d pending", n)
			}
			if _, err := os.Stat(MarkerPath(path)); err != nil {
				t.Fatalf("no new marker: %v", err)
			}
		})
	}
}

// TestOpenRefusesAnotherStoresFile: a data file of another store (another id) put in place
// is refused; deleting the marker accepts it.
func TestOpenRefusesAnotherStoresFile(t *testing.T) {
	a, b := dbPath(t), dbPath(t)
	fillStore(t, a, 3)
	fillStore(t, b, 5)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(a, Options{Logger: testLogger(t)})
	if !errors.Is(err, ErrStoreReplaced) || !strings.Contains(err.Error(), "a different data file was put in place") ||
		!strings.Contains(err.Error(), a) {
		t.Fatalf("Open of another store's file: %v", err)
	}
	if r, err := Check(a); err != nil || r.Sound() || !strings.Contains(strings.Join(r.Problems, " "), "the sidecar refuses it") {
		t.Fatalf("Check of another store's file: %v %+v", err, r)
	}
	if err := os.Remove(MarkerPath(a)); err != nil {
		t.Fatal(err)
	}
	if n := pendingCount(t, a); n != 5 {
		t.Fatalf("after accepting the file: %d pending, want 5", n)
	}
}

// TestOpenWritesMarker: a new store gets an id in sys and the same id in its marker; an
// existing file without a marker (an older install) gets one at Open; the id stays the
// same across Opens and through Compact.
func TestOpenWritesMarker(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	id := s.StoreID()
	if len(id) != 32 {
		t.Fatalf("store id %q", id)
	}
	if mid, ok, err := readMarker(path); err != nil || !ok || mid != id {
		t.Fatalf("marker: %q %v %v, want %q", mid, ok, err, id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(MarkerPath(path) + ".tmp-*"); len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
	// An older install: no marker.
	if err := os.Remove(MarkerPath(path)); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{})
	if s.StoreID() != id {
		t.Fatalf("id changed: %q → %q", id, s.StoreID())
	}
	if mid, ok, _ := readMarker(path); !ok || mid != id {
		t.Fatalf("marker not rewritten: %q %v", mid, ok)
	}
	_ = s.Close()
	// Compact keeps the id: the compacted file opens against the marker.
	dst := path + ".compact"
	if err := Compact(path, dst); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst, path); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{})
	if s.StoreID() != id {
		t.Fatalf("id after compact %q, want %q", s.StoreID(), id)
	}
}

// TestOpenOfAnOlderFileWithoutID: a file made before store ids (no sys store_id, no marker)
// opens and gets both.
func TestOpenOfAnOlderFileWithoutID(t *testing.T) {
	path := dbPath(t)
	fillStore(t, path, 2)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktSys).Delete(sysStoreID) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := os.Remove(MarkerPath(path)); err != nil {
		t.Fatal(err)
	}
	s := openT(t, path, Options{})
	if s.StoreID() == "" || stats(t, s).Pending[TopicNote] != 2 {
		t.Fatalf("id %q, stats %+v", s.StoreID(), stats(t, s))
	}
	if mid, ok, _ := readMarker(path); !ok || mid != s.StoreID() {
		t.Fatalf("marker %q %v, want %q", mid, ok, s.StoreID())
	}
}

// logBuffer is a concurrency-safe log sink for tests.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOpenWarnsWhenCreatingNewStore: Open logs at WARN, with the path, that it created a
// new, empty store when there was neither a data file nor a marker in an existing folder
// (the first start, or an unmounted data volume); not when it opens the existing store, nor for an existing file
// without a marker (an install older than the marker).
func TestOpenWarnsWhenCreatingNewStore(t *testing.T) {
	path := dbPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil { // data_dir exists, empty
		t.Fatal(err)
	}
	warned := func(open func(log *slog.Logger)) string {
		var logs logBuffer
		open(slog.New(slog.NewTextHandler(&logs, nil)))
		return logs.String()
	}
	want := fmt.Sprintf(newStoreWarning, path)
	out := warned(func(log *slog.Logger) { openT(t, path, Options{Logger: log}).Close() })
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, want) || !strings.Contains(out, "file="+path) {
		t.Fatalf("first open logged %q; want a WARN %q with file=%s", out, want, path)
	}
	if out := warned(func(log *slog.Logger) { openT(t, path, Options{Logger: log}).Close() }); strings.Contains(out, "created a new") {
		t.Fatalf("reopening the store logged %q", out)
	}
	if err := os.Remove(MarkerPath(path)); err != nil {
		t.Fatal(err)
	}
	if out := warned(func(log *slog.Logger) { openT(t, path, Options{Logger: log}).Close() }); strings.Contains(out, "created a new") {
		t.Fatalf("opening an existing file without a marker logged %q", out)
	}
}

// TestOpenNewFolderLogsInfo: a store created in a folder that did not exist (Open made it:
// the first start, e.g. the demo's fresh folder) is logged at INFO, exactly; there was no
// folder that could have been an unmounted volume.
func TestOpenNewFolderLogsInfo(t *testing.T) {
	path := dbPath(t) // its data folder does not exist yet
	var logs logBuffer
	openT(t, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Close()
	out := logs.String()
	want := `level=INFO msg="created a new, empty store at ` + path + ` (first start: its folder did not exist)" file=` + path + "\n"
	if !strings.Contains(out, want) || strings.Contains(out, "level=WARN") {
		t.Fatalf("first open into a new folder logged %q; want the line %q and no WARN", out, want)
	}
}
