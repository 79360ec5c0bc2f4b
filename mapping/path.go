package mapping

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
	steps []step
}

type step struct {
	key     string
	index   int
	isIndex bool
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
			p.steps = append(p.steps, step{key: name})
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
			p.steps = append(p.steps, step{index: n, isIndex: true})
			seg = seg[end+1:]
		}
	}
	return p, nil
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// Lookup resolves the path in v. It reports false when a key or element is missing or
// when a step meets a value that is not a map (key), or an index other than [0] and [-1]
// meets a value that is not a list.
func (p Path) Lookup(v any) (any, bool) {
	for _, s := range p.steps {
		var ok bool
		if s.isIndex {
			v, ok = index(v, s.index)
		} else {
			v, ok = key(v, s.key)
		}
		if !ok {
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

// pathSet resolves many paths in one record, sharing their common prefixes: each distinct
// prefix ("Loc" of "Loc.Lat" and "Loc.Lon") is looked up once per record.
type pathSet struct {
	nodes []pathNode
	index map[pathNode]int
}

type pathNode struct {
	parent int // index of the parent node; -1 = the record
	step   step
}

// resolved is a node's value in one record.
type resolved struct {
	v  any
	ok bool
}

// add registers p and returns its node (-1 for the empty path: the record itself).
func (s *pathSet) add(p Path) int {
	if s.index == nil {
		s.index = map[pathNode]int{}
	}
	cur := -1
	for _, st := range p.steps {
		n := pathNode{parent: cur, step: st}
		i, ok := s.index[n]
		if !ok {
			i = len(s.nodes)
			s.nodes = append(s.nodes, n)
			s.index[n] = i
		}
		cur = i
	}
	return cur
}

// resolve fills vals (len(s.nodes)) with every node's value in rec; parents precede children.
func (s *pathSet) resolve(rec any, vals []resolved) {
	for i, n := range s.nodes {
		from, ok := rec, true
		if n.parent >= 0 {
			from, ok = vals[n.parent].v, vals[n.parent].ok
		}
		if !ok {
			vals[i] = resolved{}
			continue
		}
		var r resolved
		if n.step.isIndex {
			r.v, r.ok = index(from, n.step.index)
		} else {
			r.v, r.ok = key(from, n.step.key)
		}
		vals[i] = r
	}
}

// get returns node i's value; -1 is the record.
func get(rec any, vals []resolved, i int) (any, bool) {
	if i < 0 {
		return rec, true
	}
	return vals[i].v, vals[i].ok
}
