package mapping

import (
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// Warnings are what Compile could not check: without mapping.sample, expressions are not
// type-checked, from paths not checked against a record, and templates are test-rendered
// on synthetic data only. `cad-sidecar validate` prints them; they do not stop the
// sidecar.
func (m *Mapper) Warnings() []Problem { return m.warnings }

// uncheckedKinds collects, while compiling without a sample, the keys that a sample would
// have checked, for the mapping.sample warning.
type unchecked struct {
	exprs, paths, templates []string
}

// sampleWarning is the warning for a mapping without mapping.sample.
func (u *unchecked) warning() (Problem, bool) {
	var parts []string
	if len(u.exprs) > 0 {
		parts = append(parts, "expressions are not type-checked against a record (a misspelt name is nil at run time, not a config error): "+strings.Join(u.exprs, ", "))
	}
	if len(u.paths) > 0 {
		parts = append(parts, "from paths are not checked against a record: "+strings.Join(u.paths, ", "))
	}
	if len(u.templates) > 0 {
		parts = append(parts, "templates were test-rendered on synthetic data only: "+strings.Join(u.templates, ", "))
	}
	if len(parts) == 0 {
		return Problem{}, false
	}
	return Problem{Key: "sample", Msg: "not set, so " + strings.Join(parts, "; ") +
		" — set mapping.sample to a record file exported from the CAD"}, true
}

// syntheticRecord builds a record for a template of parseRecordTemplate from the fields
// it reads: every .A.B chain on the record is there, its leaf the text "sample". It stands
// in for mapping.sample when there is none.
func syntheticRecord(text string) map[string]any {
	rec := map[string]any{}
	t, err := template.New("").Funcs(TemplateFuncs()).Parse(text)
	if err != nil {
		return rec
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			collectFields(tt.Tree.Root, rec, true)
		}
	}
	return rec
}

// collectFields adds the field chains of n to rec. top is false inside range and with,
// where dot is no longer the record.
func collectFields(n parse.Node, rec map[string]any, top bool) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			collectFields(c, rec, top)
		}
	case *parse.ActionNode:
		collectPipe(x.Pipe, rec, top)
	case *parse.IfNode:
		collectPipe(x.Pipe, rec, top)
		collectFields(x.List, rec, top)
		collectFields(x.ElseList, rec, top)
	case *parse.RangeNode:
		collectScope(x.Pipe, x.List, rec, top, true)
		collectFields(x.ElseList, rec, top)
	case *parse.WithNode:
		collectScope(x.Pipe, x.List, rec, top, false)
		collectFields(x.ElseList, rec, top)
	}
}

// collectScope handles {{range .F}} and {{with .F}}: .F becomes a list of one map (range)
// or a map (with) holding the fields the body reads of its dot. Other pipelines give
// the body an unknown dot.
func collectScope(p *parse.PipeNode, body *parse.ListNode, rec map[string]any, top, list bool) {
	if top && p != nil && len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
		if f, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok {
			inner := map[string]any{}
			collectFields(body, inner, true)
			var v any = inner
			if list {
				v = []any{inner}
			}
			setChain(rec, f.Ident, v)
			return
		}
	}
	collectPipe(p, rec, top)
	collectFields(body, rec, false)
}

func collectPipe(p *parse.PipeNode, rec map[string]any, top bool) {
	if p == nil || !top {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch f := a.(type) {
			case *parse.FieldNode:
				addChain(rec, f.Ident)
			case *parse.PipeNode:
				collectPipe(f, rec, top)
			}
		}
	}
}

func addChain(rec map[string]any, chain []string) { setChain(rec, chain, "sample") }

// setChain sets the leaf of chain in rec to v, unless it is set already.
func setChain(rec map[string]any, chain []string, v any) {
	m := rec
	for i, k := range chain {
		if i == len(chain)-1 {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
			return
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
}

// checkTemplate test-renders a record template: on the sample record (an error is a
// problem), or else on synthetic data (an error is a warning: the data is made up).
func (cp *compiler) checkTemplate(sub, text string, t *template.Template) {
	if cp.sample != nil {
		if _, err := execRecordTemplate(t, cp.sample); err != nil {
			cp.add(sub, "cannot render "+strconv.Quote(text)+" on the sample record: "+templateError(err))
		}
		return
	}
	cp.unchecked.templates = append(cp.unchecked.templates, sub)
	if _, err := execRecordTemplate(t, syntheticRecord(text)); err != nil {
		cp.m.warnings = append(cp.m.warnings, Problem{Key: sub, Msg: "cannot render " + strconv.Quote(text) +
			" on synthetic data (every field it reads set to \"sample\"): " + templateError(err) + "; check it with mapping.sample"})
	}
}
