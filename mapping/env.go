package mapping

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// The expression environment is built per Map call from the record, converting only what
// the expressions can reach (see exprOptions for the conversions). Compile analyses each
// program: a name used only through constant member chains (Loc.Number, $env.Status,
// Loc["Street"]) needs only those members converted; any other use needs the whole value.
// When nothing reachable needs converting — the common case for string records — the
// record itself is the environment and Map allocates nothing for expressions.

// usage is what the expressions read of one value: all of it, or some members.
type usage struct {
	whole   bool
	members map[string]*usage
	keys    []string // members' keys, sorted, for iteration without map order
	sub     []*usage
}

func (u *usage) member(k string) *usage {
	if u.members == nil {
		u.members = map[string]*usage{}
	}
	c := u.members[k]
	if c == nil {
		c = &usage{}
		u.members[k] = c
	}
	return c
}

// freeze fills keys and sub below u.
func (u *usage) freeze() {
	u.keys = slices.Sorted(maps.Keys(u.members))
	u.sub = u.sub[:0]
	for _, k := range u.keys {
		c := u.members[k]
		c.freeze()
		u.sub = append(u.sub, c)
	}
}

// envPlan is what all programs of a Mapper read of the record.
type envPlan struct {
	used bool  // some program runs
	all  bool  // $env is used as a whole: every key, whole
	top  usage // members = top-level record keys
	keys []string
	// clock: some program calls now(): its results change with time, not only with the
	// record (see Mapper.Pure).
	clock bool
}

// analyze adds what p reads to plan. With undefined variables allowed, a call of an unknown
// function compiles (it would call a record value); it is reported here as an error instead.
func (plan *envPlan) analyze(p *vm.Program) error {
	plan.used = true
	c := &collector{}
	n := p.Node()
	ast.Walk(&n, c)
	if c.unknown != "" {
		return errors.New("unknown function " + c.unknown + " (helpers: " + strings.Join(helperNames, ", ") + ", and expr-lang's builtins)")
	}
	if c.badRegexp != "" {
		return errors.New(c.badRegexp)
	}
	plan.clock = plan.clock || c.clock
	bases := map[*ast.IdentifierNode]bool{}
	for _, m := range c.members {
		if c.inner[m] {
			continue // part of a longer chain
		}
		var keys []string
		var cur ast.Node = m
		for {
			mn, ok := cur.(*ast.MemberNode)
			if !ok {
				break
			}
			s, ok := mn.Property.(*ast.StringNode)
			if !ok {
				break
			}
			keys = append(keys, s.Value)
			cur = mn.Node
		}
		id, ok := cur.(*ast.IdentifierNode)
		if !ok || len(keys) == 0 {
			continue
		}
		slices.Reverse(keys)
		u := &plan.top
		if id.Value != "$env" {
			u = u.member(id.Value)
		}
		for _, k := range keys {
			u = u.member(k)
		}
		u.whole = true
		bases[id] = true
	}
	for _, id := range c.idents {
		if bases[id] || c.callees[id] {
			continue
		}
		if id.Value == "$env" {
			plan.all = true
		} else {
			plan.top.member(id.Value).whole = true
		}
	}
	return nil
}

func (plan *envPlan) freeze() {
	plan.top.freeze()
	plan.keys = plan.top.keys
}

type collector struct {
	idents  []*ast.IdentifierNode
	members []*ast.MemberNode
	inner   map[*ast.MemberNode]bool // member nodes that are the Node of another
	callees map[*ast.IdentifierNode]bool
	unknown string
	// badRegexp is the first invalid constant pattern of extract.
	badRegexp string
	clock     bool // now() is called
}

func (c *collector) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		c.idents = append(c.idents, x)
	case *ast.MemberNode:
		c.members = append(c.members, x)
		if in, ok := x.Node.(*ast.MemberNode); ok {
			if _, str := x.Property.(*ast.StringNode); str {
				if c.inner == nil {
					c.inner = map[*ast.MemberNode]bool{}
				}
				c.inner[in] = true
			}
		}
	case *ast.BuiltinNode:
		if x.Name == "now" {
			c.clock = true
		}
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok {
			if !functionNames[id.Value] && c.unknown == "" {
				c.unknown = id.Value
			}
			if c.callees == nil {
				c.callees = map[*ast.IdentifierNode]bool{}
			}
			c.callees[id] = true
			if id.Value == "now" {
				c.clock = true
			}
			if id.Value == "extract" && len(x.Arguments) > 1 && c.badRegexp == "" {
				if pat, ok := x.Arguments[1].(*ast.StringNode); ok {
					if _, err := extract("", pat.Value, -1); err != nil {
						c.badRegexp = err.Error()
					} else if len(x.Arguments) > 2 {
						if g, ok := x.Arguments[2].(*ast.IntegerNode); ok {
							if _, err := extract("", pat.Value, g.Value); err != nil {
								c.badRegexp = err.Error()
							}
						}
					}
				}
			}
		}
	}
}

// env returns the expression environment for rec and whether it must be released: rec
// itself when nothing needs converting, otherwise a pooled map.
func (m *Mapper) env(rec map[string]any) (env map[string]any, pooled bool) {
	if m.plan.all {
		env = m.envPool.Get().(map[string]any)
		for k, v := range rec {
			env[k], _ = exprValue(v)
		}
		return env, true
	}
	for i, k := range m.plan.keys {
		v, ok := rec[k]
		if !ok {
			continue
		}
		nv, changed := convertUsed(v, m.plan.top.sub[i])
		if changed && env == nil {
			// First conversion: from here on the environment is a pooled map holding the
			// keys the programs read (no others are read); fill in the earlier ones.
			env = m.envPool.Get().(map[string]any)
			for _, pk := range m.plan.keys[:i] {
				if pv, ok := rec[pk]; ok {
					env[pk] = pv
				}
			}
		}
		if env != nil {
			env[k] = nv
		}
	}
	if env == nil {
		return rec, false
	}
	return env, true
}

func (m *Mapper) releaseEnv(env map[string]any) {
	clear(env)
	m.envPool.Put(env)
}

// convertUsed converts what u reads of v, copy-on-write.
func convertUsed(v any, u *usage) (any, bool) {
	if u.whole || len(u.sub) == 0 {
		return exprValue(v)
	}
	mv, ok := v.(map[string]any)
	if !ok {
		return exprValue(v)
	}
	var cp map[string]any
	for i, k := range u.keys {
		e, ok := mv[k]
		if !ok {
			continue
		}
		if ne, ch := convertUsed(e, u.sub[i]); ch {
			if cp == nil {
				cp = maps.Clone(mv)
			}
			cp[k] = ne
		}
	}
	if cp == nil {
		return v, false
	}
	return cp, true
}

// exprValue converts v and everything in it for expressions; changed is false when v is
// returned as is.
func exprValue(v any) (out any, changed bool) {
	switch x := v.(type) {
	case json.Number:
		return numberValue(x), true
	case []byte:
		return string(x), true
	case map[string]any:
		var cp map[string]any
		for k, e := range x {
			if ne, ch := exprValue(e); ch {
				if cp == nil {
					cp = maps.Clone(x)
				}
				cp[k] = ne
			}
		}
		if cp != nil {
			return cp, true
		}
	case []any:
		var cp []any
		for i, e := range x {
			if ne, ch := exprValue(e); ch {
				if cp == nil {
					cp = slices.Clone(x)
				}
				cp[i] = ne
			}
		}
		if cp != nil {
			return cp, true
		}
	}
	return v, false
}

func numberValue(n json.Number) any {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	}
	// ParseInt's errors allocate: try it only where it can succeed (≤ 19 digits).
	if len(s) <= 19 || (len(s) == 20 && s[0] == '-') {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && int64(int(i)) == i {
			return int(i)
		}
	}
	return s // integer beyond int64: keep exact
}
