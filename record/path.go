package record

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// Path is a parsed path into a record: dotted keys, [n] for list elements ([-1] is the last
// element), e.g. "Units[0].Id"; a value that is not a list is a list of one (its [0] and
// [-1] are the value: a single XML element is not a list). The empty path is the value itself. Keys may contain any
// character except '.', '[' and ']'. For XML records, @name is an attribute and #text an
// element's text ("Location.Address.@type", "Remarks.#text"; #text of an element that has
// only text is that text). Parse once with ParsePath and reuse.
type Path struct {
	src   string
	steps []Step
}

// Step is one step of a Path: a key, or a list index when IsIndex.
type Step struct {
	Key     string
	Index   int
	IsIndex bool
}

// Apply takes the step from v: the key of a map, or the element of a list (as Path.Lookup).
func (s Step) Apply(v any) (any, bool) {
	if s.IsIndex {
		return index(v, s.Index)
	}
	return key(v, s.Key)
}

// ParsePath parses a path; the error says what is wrong without quoting the path.
func ParsePath(s string) (Path, error) {
	p := Path{src: s}
	if s == "" {
		return p, nil
	}
	for i, seg := range strings.Split(s, ".") {
		name := seg
		if b := strings.IndexAny(seg, "[]"); b >= 0 {
			name = seg[:b]
			seg = seg[b:]
		} else {
			seg = ""
		}
		if name == "" && (i > 0 || seg == "") {
			return Path{}, errors.New("empty key between dots")
		}
		if name != "" {
			p.steps = append(p.steps, Step{Key: name})
		}
		for seg != "" {
			if seg[0] != '[' {
				return Path{}, errors.New("unexpected " + strconv.Quote(seg[:1]) + " (use [n] for list elements)")
			}
			end := strings.IndexByte(seg, ']')
			if end < 0 {
				return Path{}, errors.New(`unclosed "["`)
			}
			n, err := strconv.Atoi(seg[1:end])
			if err != nil {
				return Path{}, errors.New("list index " + strconv.Quote(seg[1:end]) + " is not an integer")
			}
			p.steps = append(p.steps, Step{Index: n, IsIndex: true})
			seg = seg[end+1:]
		}
	}
	return p, nil
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// Steps returns the path's steps (shared: do not modify).
func (p Path) Steps() []Step { return p.steps }

// Lookup resolves the path in v. It reports false when a key or element is missing or
// when a step meets a value that is not a map (key), or an index other than [0] and [-1]
// meets a value that is not a list.
func (p Path) Lookup(v any) (any, bool) {
	for _, s := range p.steps {
		var ok bool
		if v, ok = s.Apply(v); !ok {
			return nil, false
		}
	}
	return v, true
}

// Lookup resolves path in rec (see Path). A malformed path finds nothing.
func Lookup(rec any, path string) (any, bool) {
	p, err := ParsePath(path)
	if err != nil {
		return nil, false
	}
	return p.Lookup(rec)
}

func key(v any, k string) (any, bool) {
	switch m := v.(type) {
	case map[string]any:
		x, ok := m[k]
		return x, ok
	case map[string]string:
		x, ok := m[k]
		return x, ok
	case nil:
		return nil, false
	case string:
		// An XML element with only text is its string: Remarks.#text is Remarks.
		if k == "#text" {
			return m, true
		}
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	x := rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()))
	if !x.IsValid() {
		return nil, false
	}
	return x.Interface(), true
}

func index(v any, i int) (any, bool) {
	switch l := v.(type) {
	case []any:
		if i < 0 {
			i += len(l)
		}
		if i < 0 || i >= len(l) {
			return nil, false
		}
		return l[i], true
	case []map[string]any:
		if i < 0 {
			i += len(l)
		}
		if i < 0 || i >= len(l) {
			return nil, false
		}
		return l[i], true
	case nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		// A value that is not a list is a list of one: in an XML record an element is a
		// list only when it repeats, so Units.Unit[0] is the only unit of an incident
		// that has one.
		if i == 0 || i == -1 {
			return v, true
		}
		return nil, false
	}
	if i < 0 {
		i += rv.Len()
	}
	if i < 0 || i >= rv.Len() {
		return nil, false
	}
	return rv.Index(i).Interface(), true
}
