package mapping

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeLayouts are the layouts parse_time tries, in order, after mapping.time_layouts,
// when it is given none. A time without a zone is in mapping.timezone. Fractional seconds
// of any length (".4530000", ",5") may follow the seconds of every layout; "am"/"pm" may
// be in either case. Input that is only digits is read by parseDigits first.
var TimeLayouts = []string{
	time.RFC3339,                // 2026-01-26T09:35:18Z, 2026-01-26T09:35:18.453-05:00
	"2006-01-02 15:04:05Z07:00", // RFC 3339 with a space: 2022-12-03 12:15:32Z
	"2006-01-02T15:04:05-0700",  // numeric offset without a colon
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05 -0700", // Go's and PostgreSQL's text form
	"2006-01-02 15:04:05 Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"1/2/2006 3:04:05 PM", // US, 12-hour: 1/26/2026 9:35:18 AM
	"1/2/2006 3:04 PM",
	"1/2/2006 15:04:05", // US, 24-hour (also 01/02/2006 15:04:05)
	"1/2/2006 15:04",
	"2006-01-02",
	"1/2/2006",
	"20060102150405",
}

// timeParser is parse_time with the mapping's settings: mapping.timezone and
// mapping.time_layouts.
type timeParser struct {
	loc     *time.Location
	layouts []string // mapping.time_layouts, tried before TimeLayouts
}

// TimeError is a time that parse_time (or format_time) cannot read. A field whose
// expression fails with it is empty (and counted in Result.UnparsedTimes) unless the field
// is required; see Map.
type TimeError struct {
	msg string
}

func (e *TimeError) Error() string { return e.msg }

// parse is the parse_time helper: nil or "" give nil (so optional times pass through
// format_time as ""), a time.Time is returned as is, a number is an epoch time (see
// parseDigits).
func (tp *timeParser) parse(v any, layout string) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case float64:
		if t, ok := epoch(x); ok {
			return t, nil
		}
	case int:
		if t, ok := epoch(float64(x)); ok {
			return t, nil
		}
	case int64:
		if t, ok := epoch(float64(x)); ok {
			return t, nil
		}
	}
	s := strings.TrimSpace(String(v))
	if s == "" {
		return nil, nil
	}
	if layout != "" {
		t, err := parseInLocation(layout, s, tp.loc)
		if err != nil {
			return nil, &TimeError{"parse_time: cannot parse " + strconv.Quote(clipValue(s)) + " with layout " + strconv.Quote(layout)}
		}
		return t, nil
	}
	if t, ok := tp.parseAny(s); ok {
		return t, nil
	}
	what := "the built-in layouts"
	if len(tp.layouts) > 0 {
		what = "mapping.time_layouts and the built-in layouts"
	}
	return nil, &TimeError{"parse_time: cannot parse " + strconv.Quote(clipValue(s)) + " (tried " + what +
		"; set mapping.time_layouts or give a layout as the second argument)"}
}

// parseAny tries mapping.time_layouts, the digit forms, then TimeLayouts.
func (tp *timeParser) parseAny(s string) (time.Time, bool) {
	for _, l := range tp.layouts {
		if t, err := parseInLocation(l, s, tp.loc); err == nil {
			return t, true
		}
	}
	return parseAnyTime(s, tp.loc)
}

// parseAnyTime reads s with the digit forms and TimeLayouts.
func parseAnyTime(s string, loc *time.Location) (time.Time, bool) {
	if t, ok, digits := parseDigits(s, loc); digits {
		return t, ok
	}
	if strings.Contains(s, "m") { // "9:35 am": Go's PM layout reads upper case only
		s = strings.Replace(strings.Replace(s, " am", " AM", 1), " pm", " PM", 1)
	}
	slash := strings.IndexByte(s, '/') >= 0
	for _, l := range TimeLayouts {
		if (strings.IndexByte(l, '/') >= 0) != slash {
			continue // a US date is not tried with ISO layouts, nor the other way round
		}
		if t, err := parseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDigits reads a time written as digits only (and an optional fraction): by the
// number of digits before the fraction,
//
//   - 8: YYYYMMDD, 14: YYYYMMDDhhmmss (in loc)
//   - 9 to 11: seconds since 1970-01-01 UTC (Unix time; 1973 to 5138)
//   - 12 or 13: milliseconds since 1970-01-01 UTC (2001 to 2286)
//
// digits is false when s is not of that form (then other layouts are tried).
func parseDigits(s string, loc *time.Location) (t time.Time, ok, digits bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasFrac && !allDigits(frac)) || intPart == "" {
		return time.Time{}, false, false
	}
	switch n := len(intPart); {
	case n == 8 && !hasFrac:
		t, err := parseInLocation("20060102", s, loc)
		return t, err == nil, true
	case n == 14 && !hasFrac:
		t, err := parseInLocation("20060102150405", s, loc)
		return t, err == nil, true
	case n >= 9 && n <= 13:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, false, true
		}
		t, ok := epoch(f)
		return t, ok, true
	}
	return time.Time{}, false, true
}

// epoch reads a number as Unix seconds (below 10^11) or milliseconds (10^11 to 10^13).
func epoch(f float64) (time.Time, bool) {
	switch {
	case f < 1e8 || f >= 1e13 || math.IsNaN(f):
		return time.Time{}, false
	case f >= 1e11:
		ms := math.Floor(f)
		return time.UnixMilli(int64(ms)).Add(time.Duration((f - ms) * 1e6)).UTC(), true
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))).UTC(), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clipValue shortens a value quoted in an error message.
func clipValue(s string) string {
	const max = 40
	if len(s) > max {
		return truncate(s, max) + "…"
	}
	return s
}

var errNoLayout = errors.New("is empty")

// checkLayouts validates mapping.time_layouts: each must format and read back a time.
func checkLayouts(layouts []string) (bad int, err error) {
	ref := time.Date(2026, 1, 26, 9, 35, 18, 0, time.UTC)
	for i, l := range layouts {
		if strings.TrimSpace(l) == "" {
			return i, errNoLayout
		}
		if _, err := time.Parse(l, ref.Format(l)); err != nil || ref.Format(l) == l {
			return i, errors.New("is not a Go time layout (write the reference time Mon Jan 2 15:04:05 MST 2006 in your format, e.g. \"02.01.2006 15:04\")")
		}
	}
	return -1, nil
}
