package sidecar_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// sourceOnlyAdapter is a CAD integration that reads incidents and writes no notes: its
// factory returns a nil Sink, as the sql adapter does without write_note.
const sourceOnlyAdapter = "test-source-only"

func init() {
	adapters.Register(adapters.Factory{
		Name:      sourceOnlyAdapter,
		NewConfig: func() any { return &struct{}{} },
		New: func(any, adapters.Deps) (adapters.Source, adapters.Sink, error) {
			return emptySource{}, nil, nil
		},
	})
}

// emptySource polls successfully and finds nothing.
type emptySource struct{}

func (emptySource) Poll(context.Context, string) (adapters.Batch, error) {
	return adapters.Batch{}, nil
}

// Run polls on the default schedule (adapters.PollSource).
func (e emptySource) Run(ctx context.Context, emit adapters.Emit) error {
	p, err := adapters.PollSource(e.Poll, "", nil)
	if err != nil {
		return err
	}
	return p.Run(ctx, emit)
}

// readOnly makes the env's sidecar a read-only integration; then runs more edits.
func readOnly(more func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		c.CAD.Adapter, c.CAD.Settings = sourceOnlyAdapter, &struct{}{}
		if more != nil {
			more(c)
		}
	}
}

// infoLogs keeps the env's log at info, as operators run it.
func infoLogs(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
}

// readOnlyLine is one line of the read-only notes file.
type readOnlyLine struct {
	IncidentID string `json:"incident_id"`
	CallID     string `json:"call_id"`
	Type       string `json:"type"`
	Critical   bool   `json:"critical"`
	CreatedAt  string `json:"created_at"`
	Key        string `json:"key"`
	Text       string `json:"text"`
}

// readNotesFile parses every line of one notes file; a line that is not whole JSON fails.
func readNotesFile(t *testing.T, path string) []readOnlyLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: a line was split", path)
	}
	var out []readOnlyLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l readOnlyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s:%d is not one JSON note (%v): %q", path, n, err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// A read-only integration is valid: a pushed note lands in data_dir/notes.jsonl once
// (rendered, with its key), is counted delivered and leaves the outbox; nothing is
// dead-lettered; start-up says where notes go; /readyz is ready; the log at info holds
// no note text.
func TestReadOnlyNotesGoToFile(t *testing.T) {
	e := start(t, envOptions{edit: readOnly(nil), logHandler: infoLogs})
	const secret = "CALLER SAYS HER NAME IS JANE ROE AT 12 ELM"
	resp, body := post(t, e.hookURL, hookToken, noteBody("INC-RO-1", secret))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	waitFor(t, 30*time.Second, "the note delivered to the read-only file", func() bool {
		return e.metric(t, "cad_sidecar_notes_delivered_total") == 1 && e.stats(t).Pending[outbox.TopicNote] == 0
	})
	// The same note again (Assist retrying): the sidecar drops it; the file keeps one line.
	if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-RO-1", secret)); resp.StatusCode != http.StatusOK {
		t.Fatalf("duplicate webhook: %d", resp.StatusCode)
	}
	file := filepath.Join(e.cfg.DataDir, "notes.jsonl")
	lines := readNotesFile(t, file)
	if len(lines) != 1 {
		t.Fatalf("%d lines in %s, want 1: %+v", len(lines), file, lines)
	}
	l := lines[0]
	want := readOnlyLine{IncidentID: "INC-RO-1", CallID: "call-1", Type: "INFO", Critical: true,
		CreatedAt: "2026-11-25T10:00:00Z", Key: l.Key, Text: "2026-11-25T10:00:00Z|" + secret}
	if l != want || !strings.HasPrefix(l.Key, "h:") {
		t.Fatalf("line %+v\nwant %+v (key h:...)", l, want)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("notes file mode %v (%v), want 0600: it holds caller data", fi.Mode().Perm(), err)
		}
	}
	if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 {
		t.Fatalf("dead letters %+v", st)
	}
	if e.metric(t, "cad_sidecar_dead_letters") != 0 {
		t.Fatal("cad_sidecar_dead_letters is not 0")
	}
	waitFor(t, 30*time.Second, "the sidecar started line", func() bool { return strings.Contains(e.logs.String(), "sidecar started") })
	waitFor(t, 30*time.Second, "/readyz ready", func() bool { return e.readyz(t).Ready })
	logs := e.logs.String()
	for _, w := range []string{
		`level=WARN msg="read-only integration: notes are not written to the CAD; they go to ` + file + `"`,
		"adapter=" + sourceOnlyAdapter,
		"sink=readonly-file",
	} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
	if strings.Contains(logs, "JANE ROE") {
		t.Fatalf("note text in the log at info:\n%s", logs)
	}
}

// Rotation at a tiny max_size: every file stays within it (a line is never split across
// two files), only max_files rotated files are kept, and together they hold the newest
// notes of the incident in order.
func TestReadOnlyFileRotation(t *testing.T) {
	e := start(t, envOptions{logHandler: infoLogs, edit: readOnly(func(c *config.Config) {
		c.CAD.ReadOnly.MaxSize = config.KiB
		c.CAD.ReadOnly.MaxFiles = 2
	})})
	const total = 40
	for i := range total {
		text := fmt.Sprintf("note %02d %s", i, strings.Repeat("x", 60))
		if resp, body := post(t, e.hookURL, hookToken, noteBody("INC-ROT", text)); resp.StatusCode != http.StatusOK {
			t.Fatalf("note %d: %d %s", i, resp.StatusCode, body)
		}
	}
	waitFor(t, 60*time.Second, "all notes delivered", func() bool {
		return e.metric(t, "cad_sidecar_notes_delivered_total") == total && e.stats(t).Pending[outbox.TopicNote] == 0
	})
	base := filepath.Join(e.cfg.DataDir, "notes.jsonl")
	if _, err := os.Stat(base + ".3"); !os.IsNotExist(err) {
		t.Fatalf("%s.3 exists (or %v): max_files is 2", base, err)
	}
	var all []readOnlyLine
	for _, f := range []string{base + ".2", base + ".1", base} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("rotation did not keep %s: %v", f, err)
		}
		if fi.Size() > int64(config.KiB) {
			t.Errorf("%s is %d bytes, past max_size 1KiB", f, fi.Size())
		}
		lines := readNotesFile(t, f)
		if len(lines) == 0 {
			t.Errorf("%s is empty", f)
		}
		all = append(all, lines...)
	}
	// The kept lines are the last len(all) notes, in the order they were pushed.
	for i, l := range all {
		want := fmt.Sprintf("note %02d ", total-len(all)+i)
		if !strings.Contains(l.Text, want) {
			t.Fatalf("kept line %d is %q, want %q...: lines lost or reordered", i, l.Text, want)
		}
	}
	if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 || st.Pending[outbox.TopicNote] != 0 {
		t.Fatalf("outbox %+v", st)
	}
}

// A notes file that cannot be written (a folder in its place; no write permission) is a
// transient failure: the note stays in the outbox and is retried, never dead-lettered,
// and is written once the file can be written again. The log says why without the text.
func TestReadOnlyFileUnwritableRetried(t *testing.T) {
	tests := []struct {
		name     string
		rootSkip bool
		block    func(t *testing.T, file string)
		restore  func(t *testing.T, file string)
	}{
		{
			name:    "a folder in its place",
			block:   func(t *testing.T, file string) { mustDo(t, os.MkdirAll(file, 0o700)) },
			restore: func(t *testing.T, file string) { mustDo(t, os.Remove(file)) },
		},
		{
			name:     "no write permission",
			rootSkip: true,
			block:    func(t *testing.T, file string) { mustDo(t, os.WriteFile(file, nil, 0o400)) },
			restore:  func(t *testing.T, file string) { mustDo(t, os.Chmod(file, 0o600)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rootSkip && (runtime.GOOS == "windows" || os.Geteuid() == 0) {
				t.Skip("SKIP-OK: permissions do not stop root (or Windows) from writing; the folder-in-the-way case covers the retry")
			}
			var file string
			e := start(t, envOptions{logHandler: infoLogs, edit: readOnly(func(c *config.Config) {
				mustDo(t, os.MkdirAll(c.DataDir, 0o700))
				file = filepath.Join(c.DataDir, "notes.jsonl")
				tt.block(t, file)
			})})
			if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-RO-2", "PATIENT NOT BREATHING")); resp.StatusCode != http.StatusOK {
				t.Fatalf("webhook: %d", resp.StatusCode)
			}
			waitFor(t, 30*time.Second, "three failed attempts", func() bool {
				return e.metric(t, "cad_sidecar_note_write_errors_total", "kind", "transient") >= 3
			})
			if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 || st.Pending[outbox.TopicNote] != 1 {
				t.Fatalf("while unwritable: outbox %+v, want the note pending", st)
			}
			tt.restore(t, file)
			waitFor(t, 30*time.Second, "the note delivered once the file is writable", func() bool {
				return e.metric(t, "cad_sidecar_notes_delivered_total") == 1 && e.stats(t).Pending[outbox.TopicNote] == 0
			})
			if lines := readNotesFile(t, file); len(lines) != 1 || lines[0].IncidentID != "INC-RO-2" {
				t.Fatalf("file holds %+v, want the one note", lines)
			}
			if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 || st.Pending[outbox.TopicNote] != 0 {
				t.Fatalf("after: outbox %+v", st)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "notes.jsonl") || !strings.Contains(logs, "writing note to CAD failed") {
				t.Errorf("the log does not say the file could not be written:\n%s", logs)
			}
			if strings.Contains(logs, "NOT BREATHING") {
				t.Fatalf("note text in the log at info:\n%s", logs)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
