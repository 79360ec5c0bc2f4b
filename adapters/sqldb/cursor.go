package sqldb

import (
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// beginningTime is poll.start: beginning for a timestamp cursor (within every engine's
// range: SQL Server's datetime starts in 1753, smalldatetime in 1900).
var beginningTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// timeLayouts are the forms a timestamp cursor value may take: RFC 3339 (what the sidecar
// stores) and the SQL forms drivers return as text (MySQL without parseTime).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// kindOfText tells a stored cursor's type from its form.
func kindOfText(s string) string {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return CursorInteger
	}
	if _, ok := parseTime(s); ok {
		return CursorTimestamp
	}
	return CursorText
}

// kindOfColumn tells a cursor column's type from the driver's description of it.
func kindOfColumn(ct *sql.ColumnType) string {
	if st := ct.ScanType(); st != nil {
		switch st.String() {
		case "time.Time", "sql.NullTime", "mysql.NullTime":
			return CursorTimestamp
		case "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
			"sql.NullInt64", "sql.NullInt32", "sql.NullInt16", "sql.NullByte":
			return CursorInteger
		}
	}
	name := strings.ToUpper(ct.DatabaseTypeName())
	switch {
	case strings.Contains(name, "INT"), name == "DECIMAL", name == "NUMERIC":
		return CursorInteger
	case strings.Contains(name, "TIME"), strings.Contains(name, "DATE"):
		return CursorTimestamp
	}
	return CursorText
}

// zonelessColumn: a time column without a zone (TIMESTAMP, DATETIME, DATETIME2) holds the
// wall clock of whoever wrote it; TIMESTAMPTZ and DATETIMEOFFSET hold instants.
func zonelessColumn(ct *sql.ColumnType) bool {
	name := strings.ToUpper(ct.DatabaseTypeName())
	return !strings.Contains(name, "TZ") && !strings.Contains(name, "OFFSET")
}

// cursorValue is one typed cursor value.
type cursorValue struct {
	kind string
	t    time.Time
	i    int64
	s    string
}

// parseCursor reads a stored cursor (or a column value) as kind; ok is false when the
// value is not of that kind.
func parseCursor(v any, kind string) (cursorValue, bool) {
	switch kind {
	case CursorTimestamp:
		switch x := v.(type) {
		case time.Time:
			return cursorValue{kind: kind, t: x.UTC()}, true
		case string:
			if t, ok := parseTime(x); ok {
				return cursorValue{kind: kind, t: t.UTC()}, true
			}
		}
	case CursorInteger:
		switch x := v.(type) {
		case int64:
			return cursorValue{kind: kind, i: x}, true
		case int32:
			return cursorValue{kind: kind, i: int64(x)}, true
		case int:
			return cursorValue{kind: kind, i: int64(x)}, true
		case uint64:
			if x <= math.MaxInt64 {
				return cursorValue{kind: kind, i: int64(x)}, true
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return cursorValue{kind: kind, i: int64(x)}, true
			}
		case string:
			s := strings.TrimSpace(x)
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return cursorValue{kind: kind, i: i}, true
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return cursorValue{kind: kind, i: int64(f)}, true // a DECIMAL(18,0) as "42.000"
			}
		}
	case CursorText:
		switch x := v.(type) {
		case nil:
		case string:
			return cursorValue{kind: kind, s: x}, true
		case time.Time:
			return cursorValue{kind: kind, s: x.UTC().Format(time.RFC3339Nano)}, true
		default:
			return cursorValue{kind: kind, s: fmt.Sprint(x)}, true
		}
	}
	return cursorValue{}, false
}

// beginning is poll.start: beginning for a cursor of kind.
func beginning(kind string) cursorValue {
	return cursorValue{kind: kind, t: beginningTime}
}

// String is the cursor as stored: RFC 3339 in UTC, a decimal integer, or the text.
func (c cursorValue) String() string {
	switch c.kind {
	case CursorTimestamp:
		return c.t.Format(time.RFC3339Nano)
	case CursorInteger:
		return strconv.FormatInt(c.i, 10)
	}
	return c.s
}

// arg is the value bound to :cursor (a timestamp moved back by overlap).
func (c cursorValue) arg(overlap time.Duration) any {
	switch c.kind {
	case CursorTimestamp:
		return c.t.Add(-overlap)
	case CursorInteger:
		return c.i
	}
	return c.s
}

func (c cursorValue) after(d cursorValue) bool {
	switch c.kind {
	case CursorTimestamp:
		return c.t.After(d.t)
	case CursorInteger:
		return c.i > d.i
	}
	return c.s > d.s
}
