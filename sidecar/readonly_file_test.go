package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// The read-only notes file on its own: where lines go as it rotates, a line longer than
// max_size, a partial last line left by a crash, a cancelled context.
func TestNoteFile(t *testing.T) {
	note := func(text string) adapters.Note {
		return adapters.Note{IncidentID: "INC-1", CallID: "call-1", Type: "INFO", CreatedAt: "2026-11-25T10:00:00Z", Key: "k-" + text, Text: text}
	}
	lineLen := func(t *testing.T, text string) int64 {
		t.Helper()
		b, err := encodeNoteLine(note(text))
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(b))
	}
	tests := []struct {
		name     string
		maxFiles int
		// maxSize in lines of the note "aa" (0 = one byte less than one such line).
		maxLines int64
		before   string // the file's content before the first write
		write    []string
		want     map[string][]string // file suffix ("" = the file itself) → texts
	}{
		{
			name: "no rotation below max_size", maxFiles: 2, maxLines: 3,
			write: []string{"aa", "bb", "cc"},
			want:  map[string][]string{"": {"aa", "bb", "cc"}},
		},
		{
			name: "rotates before a line would pass max_size and keeps max_files", maxFiles: 2, maxLines: 2,
			write: []string{"aa", "bb", "cc", "dd", "ee", "ff", "gg"},
			want:  map[string][]string{"": {"gg"}, ".1": {"ee", "ff"}, ".2": {"cc", "dd"}},
		},
		{
			name: "max_files 1", maxFiles: 1, maxLines: 1,
			write: []string{"aa", "bb", "cc"},
			want:  map[string][]string{"": {"cc"}, ".1": {"bb"}},
		},
		{
			name: "a line longer than max_size gets a file of its own", maxFiles: 3, maxLines: 0,
			write: []string{"aa", "bb", "cc"},
			want:  map[string][]string{"": {"cc"}, ".1": {"bb"}, ".2": {"aa"}},
		},
		{
			name: "a partial last line is cut off", maxFiles: 2, maxLines: 10,
			before: `{"incident_id":"INC-0","text":"whole"}` + "\n" + `{"incident_id":"INC-0","te`,
			write:  []string{"aa"},
			want:   map[string][]string{"": {"whole", "aa"}},
		},
		{
			name: "a file of one partial line is emptied", maxFiles: 2, maxLines: 10,
			before: `{"incident_id":"INC-0","te`,
			write:  []string{"aa"},
			want:   map[string][]string{"": {"aa"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "notes.jsonl")
			if tt.before != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			maxSize := tt.maxLines * lineLen(t, "aa")
			if tt.maxLines == 0 {
				maxSize = lineLen(t, "aa") - 1
			}
			f := newNoteFile(path, maxSize, tt.maxFiles, slog.New(slog.DiscardHandler))
			for _, w := range tt.write {
				if err := f.WriteNote(context.Background(), note(w)); err != nil {
					t.Fatalf("write %q: %v", w, err)
				}
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tt.want) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("files %v, want %d", names, len(tt.want))
			}
			for suffix, texts := range tt.want {
				b, err := os.ReadFile(path + suffix)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, l := range strings.SplitAfter(string(b), "\n") {
					if l == "" {
						continue
					}
					var nl noteLine
					if !strings.HasSuffix(l, "\n") || json.Unmarshal([]byte(l), &nl) != nil {
						t.Fatalf("notes.jsonl%s: %q is not a whole JSON line", suffix, l)
					}
					got = append(got, nl.Text)
				}
				if strings.Join(got, ",") != strings.Join(texts, ",") {
					t.Errorf("notes.jsonl%s holds %v, want %v", suffix, got, texts)
				}
			}
		})
	}
}

// A rotation that fails (here: a folder that cannot be removed where the oldest rotated
// file goes) holds no note up: the line is appended past max_size, and rotation works
// again once the obstacle is gone.
func TestNoteFileRotationFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.jsonl")
	if err := os.MkdirAll(filepath.Join(path+".1", "busy"), 0o700); err != nil {
		t.Fatal(err)
	}
	f := newNoteFile(path, 1, 1, slog.New(slog.DiscardHandler)) // every line rotates
	for _, text := range []string{"aa", "bb"} {
		if err := f.WriteNote(context.Background(), adapters.Note{IncidentID: "INC-1", Text: text}); err != nil {
			t.Fatalf("write %q with rotation failing: %v", text, err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || strings.Count(string(b), "\n") != 2 {
		t.Fatalf("file %q (%v), want both lines", b, err)
	}
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteNote(context.Background(), adapters.Note{IncidentID: "INC-1", Text: "cc"}); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil || strings.Count(string(old), "\n") != 2 {
		t.Fatalf("rotated file %q (%v), want the two earlier lines", old, err)
	}
}

// Every field of the note is in its line, the text as rendered ("<" and "&" unescaped, a
// newline escaped so the line stays one line).
func TestNoteFileLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jsonl")
	f := newNoteFile(path, 1<<20, 5, slog.New(slog.DiscardHandler))
	n := adapters.Note{IncidentID: "INC-7", CallID: "call-7", UserID: "u", Type: "CALL_COMPLETED", Note: "raw",
		Critical: true, CreatedAt: "2026-11-25T10:00:00Z", Key: "h:abc", Text: "a < b & c\nsecond line"}
	if err := f.WriteNote(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"incident_id":"INC-7","call_id":"call-7","type":"CALL_COMPLETED","critical":true,"created_at":"2026-11-25T10:00:00Z","key":"h:abc","text":"a < b & c\nsecond line"}` + "\n"
	if string(b) != want {
		t.Fatalf("line\n%s\nwant\n%s", b, want)
	}
}

// A cancelled context writes nothing and is not a permanent failure.
func TestNoteFileCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jsonl")
	f := newNoteFile(path, 1<<20, 5, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.WriteNote(ctx, adapters.Note{IncidentID: "INC-1", Text: "x"})
	if !errors.Is(err, context.Canceled) || delivery.IsPermanent(err) {
		t.Fatalf("err = %v, want context.Canceled (not permanent)", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file created (or %v) by a cancelled write", err)
	}
}
