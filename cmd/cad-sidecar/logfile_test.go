package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestRotatingLogFileSettings: log.max_size becomes whole MiB (rounded up), log.max_files
// the number of old files kept.
func TestRotatingLogFileSettings(t *testing.T) {
	tests := []struct {
		size    config.ByteSize
		files   int
		wantMiB int
	}{
		{config.MiB, 1, 1},
		{config.MiB + 1, 3, 2},
		{100 * config.MiB, 10, 100},
		{config.GiB, 1000, 1024},
	}
	for _, tt := range tests {
		lj := rotatingLogFile(config.LogConfig{File: "x.log", MaxSize: tt.size, MaxFiles: tt.files})
		if lj.MaxSize != tt.wantMiB || lj.MaxBackups != tt.files || lj.Filename != "x.log" {
			t.Errorf("size %s files %d: got MaxSize %d MaxBackups %d Filename %q, want %d %d", tt.size, tt.files, lj.MaxSize, lj.MaxBackups, lj.Filename, tt.wantMiB, tt.files)
		}
	}
}

// TestRunLoggerFile: with log.file set the log goes to the file, not stderr, and the file
// rotates when it reaches log.max_size.
func TestRunLoggerFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cad-sidecar.log")
	var stderr bytes.Buffer
	log, closeLog, err := newRunLogger(&stderr, config.LogConfig{Level: "info", Format: "json", File: file, MaxSize: config.MiB, MaxFiles: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the log file is created at start: %v", err)
	}
	pad := strings.Repeat("x", 1000)
	for i := 0; i < 1500; i++ { // ~1.5 MB: one rotation
		log.Info("line", "i", i, "pad", pad)
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %d bytes; the log should go to the file only", stderr.Len())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Fatalf("files %v, want the current log and one rotated file", names)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"i":1499`) {
		t.Errorf("the current file lacks the last line")
	}
}

// TestRunLoggerFileUnwritable: a log.file that cannot be created fails the start, naming
// the key and the file (here its folder is a regular file, which holds even for root).
func TestRunLoggerFileUnwritable(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(notDir, "cad-sidecar.log")
	_, _, err := newRunLogger(&bytes.Buffer{}, config.LogConfig{Level: "info", Format: "json", File: file, MaxSize: config.MiB, MaxFiles: 1})
	if err == nil {
		t.Fatal("no error for a log file under a regular file")
	}
	if !strings.Contains(err.Error(), "log.file") || !strings.Contains(err.Error(), file) {
		t.Errorf("error %q should name log.file and %s", err, file)
	}
}

// TestRunLoggerStderr: without log.file the log goes to stderr as before.
func TestRunLoggerStderr(t *testing.T) {
	var stderr bytes.Buffer
	log, closeLog, err := newRunLogger(&stderr, config.LogConfig{Level: "info", Format: "text"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	closeLog()
	if !strings.Contains(stderr.String(), "msg=hello") {
		t.Errorf("stderr %q", stderr.String())
	}
}
