package sidecar

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Cursor sanity: a CAD record stamped in the future (a wrong clock, a test record dated
// 2099) must not become the poll cursor, or a CAD that filters on `since` returns nothing
// ever again. A cursor that reads as a time later than now + cad.cursor_tolerance is not
// adopted (see takeBatch), and one already stored (by an older version) is reported the
// same way. A Source that skips such values itself (and advances over the sane ones)
// reports them in Batch.FutureCursor, and a sequence cursor (adapters.CursorSequence) is
// never judged. Both the admin API and the CLI's offline mode repair the cursor with the
// functions of this file.

// CursorPersistPolls is how many consecutive polls may find a cursor in the future before
// /readyz turns not ready (before that the cad_cursor check is only degraded).
const CursorPersistPolls = 3

// maxCursorLen bounds a cursor an operator sets.
const maxCursorLen = 1024

// CursorTime reads a cursor as a time, when it is one (see adapters.ParseCursorTime:
// RFC 3339, a date, Unix seconds or milliseconds). Anything else is not a time and never
// judged.
func CursorTime(c string) (time.Time, bool) { return adapters.ParseCursorTime(c) }

// CursorInFuture reports whether c reads as a time later than now + tolerance (a
// tolerance of 0 turns the check off). It guesses the cursor's kind from its form, as for
// a Source that does not say it (adapters.CursorUnknown).
func CursorInFuture(c string, now time.Time, tolerance time.Duration) (time.Time, bool) {
	return adapters.CursorInFuture(c, adapters.CursorUnknown, now, tolerance)
}

// CursorInfo is the CAD poll cursor as the admin API and the CLI show it.
type CursorInfo struct {
	Cursor    string    `json:"cursor"`
	Set       bool      `json:"set"`                // false: none stored, the next poll starts from the adapter's start
	Time      time.Time `json:"time,omitzero"`      // the cursor read as a time, if it is one
	InFuture  bool      `json:"in_future"`          // later than now + tolerance
	Tolerance string    `json:"tolerance"`          // cad.cursor_tolerance
	Kind      string    `json:"kind,omitempty"`     // as the CAD source last said: time | sequence ("" = guessed from its form)
	Previous  string    `json:"previous,omitempty"` // set/reset: the value it replaced
}

func cursorInfo(c string, set bool, now time.Time, tol time.Duration, kind adapters.CursorKind) CursorInfo {
	t, future := adapters.CursorInFuture(c, kind, now, tol)
	return CursorInfo{Cursor: c, Set: set, Time: t, InFuture: future, Tolerance: tol.String(), Kind: string(kind)}
}

// storedKind is the cursor kind the CAD source last gave (takeBatch keeps it), so a sequence
// cursor is not judged as a time here either.
func storedKind(st *outbox.Store) (adapters.CursorKind, error) {
	k, _, err := st.Get(bucketCursor, cadCursorKindKey)
	if err != nil {
		return "", fmt.Errorf("read CAD cursor kind: %w", err)
	}
	return adapters.CursorKind(k), nil
}

// ReadCursor returns the stored CAD poll cursor.
func ReadCursor(st *outbox.Store, tolerance time.Duration) (CursorInfo, error) {
	c, ok, err := st.Get(bucketCursor, cadCursorKey)
	if err != nil {
		return CursorInfo{}, fmt.Errorf("read CAD cursor: %w", err)
	}
	kind, err := storedKind(st)
	if err != nil {
		return CursorInfo{}, err
	}
	return cursorInfo(c, ok, time.Now(), tolerance, kind), nil
}

// SetCursor stores value as the CAD poll cursor. A value that is empty, too long, has
// control characters, or reads as a time later than now + tolerance (unless force) is an
// InputError and changes nothing.
func SetCursor(st *outbox.Store, value string, force bool, tolerance time.Duration) (CursorInfo, error) {
	if strings.TrimSpace(value) == "" {
		return CursorInfo{}, inputErrorf("empty cursor: give a value, or reset the cursor instead")
	}
	if len(value) > maxCursorLen {
		return CursorInfo{}, inputErrorf("cursor of %d bytes: at most %d", len(value), maxCursorLen)
	}
	if strings.ContainsFunc(value, unicode.IsControl) {
		return CursorInfo{}, inputErrorf("cursor %q has control characters", value)
	}
	kind, err := storedKind(st)
	if err != nil {
		return CursorInfo{}, err
	}
	now := time.Now()
	if t, future := adapters.CursorInFuture(value, kind, now, tolerance); future && !force {
		return CursorInfo{}, inputErrorf("cursor %q is %s, later than now + cad.cursor_tolerance (%s): not set (force it if you mean it)",
			value, t.UTC().Format(time.RFC3339), tolerance)
	}
	prev, _, err := st.Get(bucketCursor, cadCursorKey)
	if err != nil {
		return CursorInfo{}, fmt.Errorf("read CAD cursor: %w", err)
	}
	if err := st.Put(bucketCursor, cadCursorKey, value); err != nil {
		return CursorInfo{}, fmt.Errorf("save CAD cursor: %w", err)
	}
	info := cursorInfo(value, true, now, tolerance, kind)
	info.Previous = prev
	return info, nil
}

// ResetCursor deletes the stored cursor: the next poll starts from the adapter's start
// (everything the CAD lists; unchanged incidents are not re-linked, their hashes are kept).
func ResetCursor(st *outbox.Store, tolerance time.Duration) (CursorInfo, error) {
	prev, _, err := st.Get(bucketCursor, cadCursorKey)
	if err != nil {
		return CursorInfo{}, fmt.Errorf("read CAD cursor: %w", err)
	}
	if err := st.Delete(bucketCursor, cadCursorKey); err != nil {
		return CursorInfo{}, fmt.Errorf("delete CAD cursor: %w", err)
	}
	kind, err := storedKind(st)
	if err != nil {
		return CursorInfo{}, err
	}
	info := cursorInfo("", false, time.Now(), tolerance, kind)
	info.Previous = prev
	return info, nil
}

// cursorGuard remembers the polls that found a cursor in the future, for the log, the
// metric and the cad_cursor readiness check.
type cursorGuard struct {
	mu       sync.Mutex
	streak   int       // consecutive polls that found one; 0 = fine
	value    string    // the cursor in the future
	incident string    // the record that carried it ("" = unknown, or stored)
	stored   bool      // it is the stored cursor (else a record's, not adopted)
	since    time.Time // first poll of the streak
}

// found records a poll that found cursor value in the future; it returns the streak and
// whether the value is new (not the one of the previous poll).
func (g *cursorGuard) found(value, incident string, stored bool, now time.Time) (streak int, changed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	changed = g.streak == 0 || g.value != value || g.stored != stored
	if g.streak == 0 {
		g.since = now
	}
	g.streak++
	g.value, g.incident, g.stored = value, incident, stored
	return g.streak, changed
}

// clear records a poll with a sane cursor; it reports whether a streak ended.
func (g *cursorGuard) clear() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ended := g.streak > 0
	g.streak, g.value, g.incident, g.stored = 0, "", "", false
	return ended
}

// check is the cad_cursor readiness check.
func (g *cursorGuard) check(tolerance time.Duration) Check {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.streak == 0 {
		return Check{OK: true}
	}
	what := "a CAD record"
	if g.incident != "" {
		what = "CAD record of incident " + g.incident
	}
	detail := fmt.Sprintf("%s carries cursor %q, later than now + cad.cursor_tolerance (%s): not adopted", what, g.value, tolerance)
	if g.stored {
		detail = fmt.Sprintf("the stored cursor %q is later than now + cad.cursor_tolerance (%s)", g.value, tolerance)
	}
	detail += fmt.Sprintf(" (%d polls since %s); see `cad-sidecar cursor show`",
		g.streak, g.since.UTC().Format(time.RFC3339))
	return Check{OK: g.streak < CursorPersistPolls, Degraded: true, Detail: detail}
}
