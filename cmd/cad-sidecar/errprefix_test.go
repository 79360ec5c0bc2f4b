package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// An error of the outbox package names its operation ("outbox: backup: …"); the command
// that prints it names itself once, not twice ("backup: outbox: backup: …").
func TestCommandErrorPrefixOnce(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "sidecar.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--to", existing, "--config", cfg},
			"backup: " + existing + " already exists (not overwritten; --force replaces it)\n"},
		{[]string{"outbox", "salvage", "--to", existing, "--config", cfg},
			"outbox salvage: " + existing + " already exists (not overwritten)\n"},
	} {
		code, _, errOut := cli(tc.args...)
		if code != exitFailure || errOut != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, stderr %q", tc.args, code, errOut, exitFailure, tc.want)
		}
	}
}

// commandError drops the outbox's own prefix only where it repeats the command's name.
func TestCommandError(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		err  error
		want string
	}{
		{"backup", errors.New("outbox: backup: /b already exists"), "backup: /b already exists"},
		{"backup", errors.New("outbox: backup of /d: disk gone"), "backup of /d: disk gone"},
		{"outbox compact", errors.New("outbox: compact: /t already exists"), "outbox compact: /t already exists"},
		{"backup", errors.New("GET http://x/api/v1/backup: 503"), "backup: GET http://x/api/v1/backup: 503"},
		{"backup", errors.New("outbox: open: locked"), "backup: outbox: open: locked"},
	} {
		if got := commandError(tc.cmd, tc.err); got != tc.want {
			t.Errorf("commandError(%q, %q) = %q, want %q", tc.cmd, tc.err, got, tc.want)
		}
	}
}
