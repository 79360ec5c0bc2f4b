package mapping

import (
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// fastTemplate renders the common record template — text and {{.A.B}} actions only —
// without text/template's reflection. It gives what the template gives: each value as
// String renders it, a missing key as "". When a chain meets a value that is not a map
// (where text/template would fail or print differently) it reports !ok and the caller
// runs the template itself.
type fastTemplate struct {
	parts []fastPart
	size  int // bytes of text, a first guess of the output's size
}

type fastPart struct {
	text  string   // literal text, when chain is nil
	chain []string // field chain of {{.A.B}}
}

// compileFast returns the fast form of a record template's text, or nil when it uses
// anything else (pipelines, functions, variables, control structures, other templates).
func compileFast(text string) *fastTemplate {
	t, err := template.New("").Funcs(TemplateFuncs()).Parse(text)
	if err != nil || len(t.Templates()) != 1 || t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	f := &fastTemplate{}
	for _, n := range t.Tree.Root.Nodes {
		switch x := n.(type) {
		case *parse.TextNode:
			f.parts = append(f.parts, fastPart{text: string(x.Text)})
			f.size += len(x.Text)
		case *parse.ActionNode:
			// {{.A.B}}: one command with one field node.
			p := x.Pipe
			if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil
			}
			fn, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok {
				return nil
			}
			f.parts = append(f.parts, fastPart{chain: fn.Ident})
		default:
			return nil
		}
	}
	return f
}

// render renders f over rec; ok is false when the template itself must run.
func (f *fastTemplate) render(rec adapters.Record) (string, bool) {
	var b strings.Builder
	b.Grow(f.size + 16*len(f.parts))
	for _, p := range f.parts {
		if p.chain == nil {
			b.WriteString(p.text)
			continue
		}
		var v any = map[string]any(rec)
		for _, k := range p.chain {
			if v == nil {
				break // a missing or null parent: "" (see nilSafeFields)
			}
			m, isMap := v.(map[string]any)
			if !isMap {
				return "", false // the template's error
			}
			v = m[k]
		}
		b.WriteString(String(v))
	}
	return b.String(), true
}
