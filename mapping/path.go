package mapping

import "github.com/cad-sidecar/cad-sidecar/record"

// Path is a parsed path into a record (see record.Path, where it lives so that the
// adapters can resolve paths without importing the mapping).
type Path = record.Path

// ParsePath parses a path (record.ParsePath).
func ParsePath(s string) (Path, error) { return record.ParsePath(s) }

// Lookup resolves path in rec (record.Lookup). A malformed path finds nothing.
func Lookup(rec any, path string) (any, bool) { return record.Lookup(rec, path) }

// pathSet resolves many paths in one record, sharing their common prefixes: each distinct
// prefix ("Loc" of "Loc.Lat" and "Loc.Lon") is looked up once per record.
type pathSet struct {
	nodes []pathNode
	index map[pathNode]int
}

type pathNode struct {
	parent int // index of the parent node; -1 = the record
	step   record.Step
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
	for _, st := range p.Steps() {
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
		r.v, r.ok = n.step.Apply(from)
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
