package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const cursorUsage = `usage:
  cad-sidecar cursor show        [--json] [--config FILE]
  cad-sidecar cursor set VALUE   [--force] [--config FILE]
  cad-sidecar cursor --reset     [--config FILE]
Works through the running sidecar's admin API, or on the data file when it is stopped.
set refuses a value later than now + cad.cursor_tolerance unless --force.
`

// cmdCursor shows and repairs the CAD poll cursor.
func cmdCursor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("cursor", stderr)
	cfgPath := configFlag(fs)
	reset := fs.Bool("reset", false, "delete the cursor: the next poll starts from the beginning")
	force := fs.Bool("force", false, "set: accept a value later than now + cad.cursor_tolerance")
	asJSON := fs.Bool("json", false, "machine-readable JSON")
	pos, code := parseMixed(fs, args)
	if code >= 0 {
		return code
	}
	var op, value string
	switch {
	case *reset && len(pos) == 0:
		op = "reset"
	case !*reset && len(pos) == 1 && pos[0] == "show":
		op = "show"
	case !*reset && len(pos) == 2 && pos[0] == "set":
		op, value = "set", pos[1]
	default:
		fmt.Fprint(stderr, cursorUsage)
		return exitProblems
	}
	t, code := openConfigured(ctx, *cfgPath, op == "show", "cursor "+op, stderr)
	if t == nil {
		return code
	}
	defer t.close()
	info, err := t.cursor(ctx, op, value, *force)
	if err != nil {
		return failed(stderr, "cursor "+op, err)
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(info)
		return exitOK
	}
	printCursor(stdout, op, info)
	return exitOK
}

func (t *target) cursor(ctx context.Context, op, value string, force bool) (sidecar.CursorInfo, error) {
	tol := t.cfg.CAD.CursorTolerance
	var info sidecar.CursorInfo
	var err error
	switch {
	case t.store != nil && op == "show":
		info, err = sidecar.ReadCursor(t.store, tol)
	case t.store != nil && op == "set":
		info, err = sidecar.SetCursor(t.store, value, force, tol)
	case t.store != nil:
		info, err = sidecar.ResetCursor(t.store, tol)
	case op == "show":
		err = t.call(ctx, "GET", "/api/v1/cursor", nil, &info)
	case op == "set":
		err = t.call(ctx, "PUT", "/api/v1/cursor", sidecar.CursorRequest{Cursor: value, Force: force}, &info)
	default:
		err = t.call(ctx, "DELETE", "/api/v1/cursor", nil, &info)
	}
	return info, err
}

func printCursor(w io.Writer, op string, info sidecar.CursorInfo) {
	switch op {
	case "set":
		fmt.Fprintf(w, "cursor set to %q (was %q)\n", info.Cursor, info.Previous)
	case "reset":
		fmt.Fprintf(w, "cursor reset (was %q): the next poll starts from the beginning\n", info.Previous)
		return
	}
	if !info.Set {
		fmt.Fprintln(w, "cursor: none stored (the next poll starts from the beginning)")
		return
	}
	fmt.Fprintf(w, "cursor: %s\n", info.Cursor)
	if !info.Time.IsZero() {
		fmt.Fprintf(w, "as a time: %s\n", info.Time.UTC().Format(time.RFC3339Nano))
	}
	if info.InFuture {
		fmt.Fprintf(w, "IN THE FUTURE: later than now + cad.cursor_tolerance (%s); new CAD records may be missed.\n"+
			"Repair: cad-sidecar cursor set VALUE (a time shortly before the last good record) or cad-sidecar cursor --reset\n", info.Tolerance)
	}
}
