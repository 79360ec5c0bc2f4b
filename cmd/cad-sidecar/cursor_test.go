package main

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

func storedCursor(t *testing.T, db string) (string, bool) {
	t.Helper()
	st, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, ok, err := st.Get("cursor", "cad")
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// With the sidecar stopped, cursor show/set/--reset work on the data file; set refuses a
// cursor in the future unless --force, and bad input changes nothing.
func TestCursorCommandOffline(t *testing.T) {
	cfg, db := opConfig(t, freePort(t))
	seedDeadLetters(t, db, 0) // creates the data file
	code, out, errOut := cli("cursor", "show", "--config", cfg)
	if code != 0 || !strings.Contains(out, "none stored") || !strings.Contains(errOut, "on the data file") {
		t.Fatalf("show empty: exit %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cli("cursor", "set", "2026-11-25T10:00:00Z", "--config", cfg); code != 0 || !strings.Contains(out, `cursor set to "2026-11-25T10:00:00Z"`) {
		t.Fatalf("set: exit %d %s %s", code, out, errOut)
	}
	bad := []struct {
		args []string
		msg  string
	}{
		{[]string{"cursor", "set", "2099-01-01T00:00:00Z"}, "later than now + cad.cursor_tolerance"},
		{[]string{"cursor", "set", "4070908800"}, "later than now"},
		{[]string{"cursor", "set", " "}, "empty cursor"},
		{[]string{"cursor", "set"}, "usage"},
		{[]string{"cursor", "show", "extra"}, "usage"},
		{[]string{"cursor", "--reset", "show"}, "usage"},
		{[]string{"cursor"}, "usage"},
	}
	for _, b := range bad {
		code, _, errOut := cli(append(b.args, "--config", cfg)...)
		if code != exitProblems || !strings.Contains(errOut, b.msg) {
			t.Errorf("%v: exit %d %q; want 2 with %q", b.args, code, errOut, b.msg)
		}
	}
	if v, _ := storedCursor(t, db); v != "2026-11-25T10:00:00Z" {
		t.Fatalf("bad input changed the cursor to %q", v)
	}
	if code, _, errOut := cli("cursor", "set", "2099-01-01T00:00:00Z", "--force", "--config", cfg); code != 0 {
		t.Fatalf("set --force: exit %d %s", code, errOut)
	}
	code, out, _ = cli("cursor", "show", "--config", cfg)
	if code != 0 || !strings.Contains(out, "IN THE FUTURE") || !strings.Contains(out, "cursor --reset") {
		t.Fatalf("show future: exit %d %s", code, out)
	}
	code, out, _ = cli("cursor", "show", "--json", "--config", cfg)
	var info sidecar.CursorInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || !info.InFuture || info.Cursor != "2099-01-01T00:00:00Z" || info.Tolerance != "5m0s" {
		t.Fatalf("show --json: exit %d %s", code, out)
	}
	if code, out, _ := cli("cursor", "--reset", "--config", cfg); code != 0 || !strings.Contains(out, "cursor reset") {
		t.Fatalf("reset: exit %d %s", code, out)
	}
	if _, ok := storedCursor(t, db); ok {
		t.Fatal("cursor still stored after --reset")
	}
}
