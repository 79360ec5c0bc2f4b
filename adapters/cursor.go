package adapters

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Cursor sanity, shared by the host and the adapters: a CAD record stamped in the future (a
// wrong clock, a test record dated 2099) must not become the poll cursor, or a CAD that
// filters on it returns nothing ever again. A Source that knows its cursor's kind says so
// in Batch.CursorKind; one that skips values later than now + Deps.CursorTolerance reports
// them in Batch.FutureCursor.

// CursorKind says what a Batch's cursor is, so the host judges it rightly.
type CursorKind string

const (
	// CursorUnknown: the Source does not say. The host guesses from the cursor's form
	// (CursorTime: RFC 3339, a date, Unix seconds or milliseconds) and refuses one later
	// than now + tolerance (the cursor then stays where it was).
	CursorUnknown CursorKind = ""
	// CursorTime: the cursor is a time (as CursorTime reads it). The host judges it against
	// now (Batch.Clock when set) + tolerance.
	CursorTime CursorKind = "time"
	// CursorSequence: a change number, a rowversion, an opaque token — whatever its digits
	// look like, never a time. The host never judges it.
	CursorSequence CursorKind = "sequence"
)

// cursorLayouts are the forms read as times besides numbers (zone-less ones are UTC).
var cursorLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseCursorTime reads a cursor as a time, when it is one: RFC 3339 (fraction and zone
// optional; no zone = UTC; a space instead of T), a date, or a number of Unix seconds
// (1e9 ≤ n < 1e11, years 2001–5138) or milliseconds (1e12 ≤ n < 1e14). Anything else (a
// small change number, an opaque token) is not a time. It is a guess: a Source whose cursor
// is a large sequence number says so with CursorSequence.
func ParseCursorTime(c string) (time.Time, bool) {
	c = strings.TrimSpace(c)
	if c == "" {
		return time.Time{}, false
	}
	if f, err := strconv.ParseFloat(c, 64); err == nil {
		switch a := math.Abs(f); {
		case a >= 1e9 && a < 1e11:
			return time.UnixMilli(int64(f * 1e3)).UTC(), true
		case a >= 1e12 && a < 1e14:
			return time.UnixMilli(int64(f)).UTC(), true
		}
		return time.Time{}, false
	}
	for _, l := range cursorLayouts {
		if t, err := time.Parse(l, c); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// CursorInFuture reports whether cursor c of kind reads as a time later than now +
// tolerance. A sequence cursor never is; a tolerance of 0 turns the check off.
func CursorInFuture(c string, kind CursorKind, now time.Time, tolerance time.Duration) (time.Time, bool) {
	if kind == CursorSequence {
		return time.Time{}, false
	}
	t, ok := ParseCursorTime(c)
	if !ok || tolerance <= 0 {
		return t, false
	}
	return t, t.After(now.Add(tolerance))
}
