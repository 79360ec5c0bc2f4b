package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"sync"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// A read-only integration is an adapter that reads incidents and writes no notes (its
// factory returns a nil Sink: cad.sql without write_note, for example). It is valid: its
// notes go to the read-only notes file (cad.readonly.file), the operator's view of what
// would have been written into the CAD, and the log says where (without the text).

// readOnlySinkName names the fallback sink in the "sidecar started" line.
const readOnlySinkName = "readonly-file"

// Fallbacks for a config not made by config.Load (its defaults are the same).
const (
	readOnlyDefaultFile     = "notes.jsonl"
	readOnlyDefaultMaxSize  = 64 << 20
	readOnlyDefaultMaxFiles = 5
)

// fallbackSink returns sink, or — when the adapter gave none — the read-only notes file of
// cfg.CAD.ReadOnly, saying so in the log.
func fallbackSink(cfg *config.Config, log *slog.Logger, sink adapters.Sink) adapters.Sink {
	if !isNil(sink) {
		return sink
	}
	ro := cfg.CAD.ReadOnly
	path := ro.File
	if path == "" {
		path = readOnlyDefaultFile
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.DataDir, path)
	}
	maxSize, maxFiles := int64(ro.MaxSize), ro.MaxFiles
	if maxSize <= 0 {
		maxSize = readOnlyDefaultMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = readOnlyDefaultMaxFiles
	}
	log.Warn("read-only integration: notes are not written to the CAD; they go to "+path,
		"adapter", cfg.CAD.Adapter, "file", path, "max_size", config.ByteSize(maxSize).String(), "max_files", maxFiles)
	return newNoteFile(path, maxSize, maxFiles, log.With("component", "readonly"))
}

// isNil reports whether s is nil or an interface holding a nil pointer.
func isNil(s adapters.Sink) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// sinkName is what the "sidecar started" line calls the sink.
func (s *Sidecar) sinkName() string {
	if _, ok := s.sink.(*noteFile); ok {
		return readOnlySinkName
	}
	if s.shadow != nil {
		return shadowSinkName
	}
	return s.cfg.CAD.SinkAdapter()
}

// noteFile is the Sink of a read-only integration: each note is appended to a file as one
// JSON line (noteLine) and fsynced before WriteNote returns nil, so a note removed from
// the outbox is on disk. Before a line would take the file past maxSize the file is
// rotated: path → path.1 → … → path.maxFiles (the oldest is removed). A line is never
// split across two files; a line longer than maxSize gets a file of its own. A rotation
// that fails is logged and the line appended anyway: rotation never holds notes up.
//
// The file holds the rendered note text, which is caller data: it is created 0600 (an
// existing file keeps its mode). Delivery is at least once: after a crash between the
// fsync and the outbox's acknowledgement a note is appended again, with the same key.
//
// The file is opened for each note and closed after it, so nothing holds it open across a
// rotation (Windows cannot rename an open file) and an operator's own rotation is seen.
type noteFile struct {
	what     string // how errors and logs name the file: "read-only notes file", "shadow file"
	path     string
	maxSize  int64
	maxFiles int
	log      *slog.Logger
	mu       sync.Mutex // one append (and rotation) at a time
}

func newNoteFile(path string, maxSize int64, maxFiles int, log *slog.Logger) *noteFile {
	return &noteFile{what: "read-only notes file", path: path, maxSize: maxSize, maxFiles: maxFiles, log: log}
}

// noteLine is one line of the read-only notes file.
type noteLine struct {
	IncidentID string `json:"incident_id"`
	CallID     string `json:"call_id"`
	Type       string `json:"type"`
	Critical   bool   `json:"critical"`
	CreatedAt  string `json:"created_at"`
	Key        string `json:"key"`
	Text       string `json:"text"` // the rendered mapping.note.text
}

// WriteNote appends n to the file. A failure (disk full, no permission, a folder in the
// file's place) is transient: the note stays in the outbox and is retried. The error
// names the file and the operation, never the note's text.
func (f *noteFile) WriteNote(ctx context.Context, n adapters.Note) error {
	line, err := encodeNoteLine(n)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("encode the note of incident %s for the read-only notes file: %w", n.IncidentID, err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.append(line); err != nil {
		return delivery.Transient(fmt.Errorf("read-only notes file: %w", err))
	}
	f.log.Debug("note appended to the read-only notes file", "incident_id", n.IncidentID,
		"call_id", n.CallID, "type", n.Type, "critical", n.Critical, "file", f.path)
	return nil
}

func encodeNoteLine(n adapters.Note) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the operator reads "<" and "&" as they are
	err := enc.Encode(noteLine{IncidentID: n.IncidentID, CallID: n.CallID, Type: n.Type, Critical: n.Critical,
		CreatedAt: n.CreatedAt, Key: n.Key, Text: n.Text})
	return b.Bytes(), err // Encode ends the line with '\n'; JSON escapes every newline inside
}

// append writes line at the end of the file (rotating first when it would not fit) and
// fsyncs it. On failure nothing of line stays behind.
func (f *noteFile) append(line []byte) error {
	fh, size, err := f.open()
	if err != nil {
		return err
	}
	if size > 0 && size+int64(len(line)) > f.maxSize {
		if err := fh.Close(); err != nil {
			return fmt.Errorf("close %s before rotating: %w", f.path, err)
		}
		if err := f.rotate(); err != nil {
			// A failed rotation does not hold notes up: the file grows past max_size and
			// the next note tries again (on Windows a reader that holds the file open
			// without delete sharing makes the rename fail).
			f.log.Warn("rotating the "+f.what+" failed; appending to it past max_size", "file", f.path, "err", err)
		}
		if fh, size, err = f.open(); err != nil {
			return err
		}
	}
	if _, err := fh.Write(line); err != nil {
		_ = fh.Truncate(size) // no half line is left for the retry to follow
		_ = fh.Close()
		return fmt.Errorf("append to %s: %w", f.path, err)
	}
	if err := fh.Sync(); err != nil {
		_ = fh.Truncate(size)
		_ = fh.Close()
		return fmt.Errorf("fsync %s: %w", f.path, err)
	}
	if err := fh.Close(); err != nil {
		// The line is on disk (fsynced): the note is delivered.
		f.log.Warn("closing the "+f.what+" failed", "file", f.path, "err", err)
	}
	return nil
}

// open opens (creating, 0600) the file for appending and returns its size. A last line
// without its newline — a write cut short by a crash, of a note that was therefore not
// acknowledged and comes again — is cut off, so the file stays whole JSON lines.
func (f *noteFile) open() (*os.File, int64, error) {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("create the folder of the %s: %w", f.what, err)
	}
	_, statErr := os.Lstat(f.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	fh, err := os.OpenFile(f.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, err // *fs.PathError: "open FILE: permission denied"
	}
	fail := func(what string, err error) (*os.File, int64, error) {
		_ = fh.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", what, f.path, err)
	}
	fi, err := fh.Stat()
	if err != nil {
		return fail("stat", err)
	}
	size := fi.Size()
	if whole, err := wholeLines(fh, size); err != nil {
		return fail("read the end of", err)
	} else if whole != size {
		if err := fh.Truncate(whole); err != nil {
			return fail("cut the partial last line of", err)
		}
		f.log.Warn(f.what+" ended in a partial line (a write cut short); it was cut off",
			"file", f.path, "bytes", size-whole)
		size = whole
	}
	if created {
		if err := syncDir(dir); err != nil {
			return fail("fsync the folder of", err)
		}
	}
	return fh, size, nil
}

// wholeLines returns the length of the file's prefix that ends with its last newline.
func wholeLines(r io.ReaderAt, size int64) (int64, error) {
	var buf [4096]byte
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// rotate shifts path.N-1 → path.N … path → path.1, removing the oldest first, so that no
// rename replaces a file. Called with the file closed.
func (f *noteFile) rotate() error {
	if err := os.Remove(f.rotated(f.maxFiles)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate: %w", err)
	}
	for i := f.maxFiles - 1; i >= 1; i-- {
		if err := os.Rename(f.rotated(i), f.rotated(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(f.path, f.rotated(1)); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("rotate: fsync the folder: %w", err)
	}
	return nil
}

func (f *noteFile) rotated(i int) string { return f.path + "." + strconv.Itoa(i) }

// syncDir makes a created or renamed file's name durable. Windows cannot open a folder
// for fsync (NTFS journals the change itself): nothing to do there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
