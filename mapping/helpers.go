package mapping

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // IANA zones without /usr/share/zoneinfo (the image is distroless/static)
)

// parseInLocation is time.ParseInLocation with a defined reading of a time without a zone
// at a transition of loc: a wall clock time that does not exist (the spring gap) or exists
// twice (the autumn overlap) is read with the offset in force before the transition — a
// clock that has not changed yet — as Java, Python and PostgreSQL do. time.Date leaves the
// choice open and in fact picks differently west and east of UTC.
func parseInLocation(layout, s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil || loc == time.UTC || t.Location() != loc {
		return t, err // a zone in the input (other than loc's own offset) is exact
	}
	start, end := t.ZoneBounds()
	for _, tr := range [2]time.Time{end, start} {
		if tr.IsZero() || tr.Sub(t).Abs() > 26*time.Hour {
			continue
		}
		_, before := tr.Add(-time.Nanosecond).In(loc).Zone()
		_, after := tr.In(loc).Zone()
		lo, hi := tr.Add(time.Duration(before)*time.Second), tr.Add(time.Duration(after)*time.Second)
		if hi.Before(lo) {
			lo, hi = hi, lo
		}
		// The wall clock as if it were UTC, and whether the input has its own offset
		// that happens to be loc's (then it is exact as parsed).
		w, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil || w.Before(lo) || !w.Before(hi) {
			continue
		}
		if z, err := time.ParseInLocation(layout, s, time.FixedZone("", 3600)); err != nil || z.Equal(w) {
			return t, nil
		}
		return w.Add(-time.Duration(before) * time.Second).In(loc), nil
	}
	return t, nil
}

// formatTime is the format_time helper: the default layout is ISO 8601 in UTC
// ("2006-01-02T15:04:05Z"); zone (an IANA name) defaults to UTC. A string or number is
// parsed as parse_time does; nil gives "".
func formatTime(v any, layout, zone string, tp *timeParser) (string, error) {
	if v == nil {
		return "", nil
	}
	t, ok := v.(time.Time)
	if !ok {
		p, err := tp.parse(v, "")
		if err != nil {
			return "", &TimeError{"format_time: " + strings.TrimPrefix(err.Error(), "parse_time: ")}
		}
		if p == nil {
			return "", nil
		}
		t = p.(time.Time)
	}
	out := time.UTC
	if zone != "" && zone != "UTC" {
		z, err := cachedLocation(zone)
		if err != nil {
			return "", errors.New("format_time: " + err.Error())
		}
		out = z
	}
	switch {
	case layout == "" && zone == "":
		layout = DefaultOutputTimeLayout
	case layout == "":
		layout = time.RFC3339
	}
	return t.In(out).Format(layout), nil
}

var locations sync.Map // zone name → *time.Location

func cachedLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := loadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// substr is the substr helper: runes from start (negative counts from the end), length
// runes (negative = to the end); out-of-range bounds are clamped.
func substr(s string, start, length int) string {
	n := 0
	for range s {
		n++
	}
	if start < 0 {
		start += n
	}
	start = max(0, min(start, n))
	end := n
	if length >= 0 {
		end = min(n, start+length)
	}
	if start == 0 && end == n {
		return s
	}
	i, from, to := 0, len(s), len(s)
	for j := range s {
		if i == start {
			from = j
		}
		if i == end {
			to = j
			break
		}
		i++
	}
	return s[from:to]
}

// Regular expressions of extract, compiled once. Patterns from the config are few; a
// pattern built at run time from record data is compiled but not cached past the cap, nor
// when it is longer than a pattern written in a config.
var (
	regexps     sync.Map // pattern → *regexp.Regexp
	regexpCount atomic.Int32
)

const (
	regexpCacheMax     = 1024
	regexpCacheMaxSize = 1024 // bytes of one cached pattern
)

func cachedRegexp(pat string) (*regexp.Regexp, error) {
	if re, ok := regexps.Load(pat); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	// Counted only when stored, so that misses past the cap cannot wrap the counter.
	if len(pat) <= regexpCacheMaxSize && regexpCount.Load() < regexpCacheMax {
		if _, loaded := regexps.LoadOrStore(pat, re); !loaded {
			regexpCount.Add(1)
		}
	}
	return re, nil
}

// extract is the extract helper: the first match of pattern in s, its group'th
// subexpression; group -1 (not given) means 1 when the pattern has a group, else the whole
// match. No match gives "".
func extract(s, pattern string, group int) (string, error) {
	re, err := cachedRegexp(pattern)
	if err != nil {
		return "", errors.New("extract: invalid regular expression " + strconv.Quote(pattern) + ": " + err.Error())
	}
	if group < 0 {
		group = min(1, re.NumSubexp())
	}
	if group > re.NumSubexp() {
		return "", errors.New("extract: " + strconv.Quote(pattern) + " has no group " + strconv.Itoa(group))
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil || m[2*group] < 0 {
		return "", nil
	}
	return s[m[2*group]:m[2*group+1]], nil
}

// parseXML is the xml helper: an XML document in a string (EIDO's PIDF-LO locationByValue)
// as a record, its root element dropped (see record.ParseXMLString). nil or "" give nil.
func parseXML(v any) (any, error) {
	s := String(v)
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	rec, err := parseXMLString(s)
	if err != nil {
		return nil, errors.New("xml: " + err.Error())
	}
	return rec, nil
}

// deref is the deref helper: the first element of list (a list of maps; one map counts as
// a list of one, as an XML element that occurs once) whose key — "$id" unless given —
// equals reference, compared as text. reference is an id, or a reference object holding
// it under "$ref" (EIDO's {"$ref": "..."}); a list of references means its first. No
// match, a nil list or a nil reference give nil, so deref(...)?.member reads on.
func deref(list, reference any, key string) any {
	if l, ok := reference.([]any); ok {
		if len(l) == 0 {
			return nil
		}
		reference = l[0]
	}
	if m, ok := reference.(map[string]any); ok {
		reference = m["$ref"]
	}
	if isEmpty(reference) {
		return nil
	}
	want := String(reference)
	match := func(v any) bool {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		id, ok := m[key]
		return ok && !isEmpty(id) && String(id) == want
	}
	switch l := list.(type) {
	case []any:
		for _, v := range l {
			if match(v) {
				return v
			}
		}
	case map[string]any:
		if match(l) {
			return l
		}
	}
	return nil
}
