package mapping

import (
	"strconv"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Explanation is how a record was mapped, step by step (cad-sidecar map --explain).
type Explanation struct {
	// Filter is the filter's outcome; nil without a filter.
	Filter *FilterTrace
	// IncidentID and UserID (nil without user_id) are traced like fields.
	IncidentID SourceTrace
	UserID     *SourceTrace
	// Fields are traced in order; after a filtered record they are still evaluated.
	Fields []SourceTrace
	// Result and Err are what Map returns.
	Result Result
	Err    error
}

// FilterTrace is the filter's outcome.
type FilterTrace struct {
	Expr   string
	Result string // "true", "false" or "" on error
	Err    string
}

// SourceTrace is one value: where it comes from, the raw value, each transform's result.
type SourceTrace struct {
	Key    string // "incident_id", "fields[2]"
	Name   string // the field's name
	Source string // `from "Nature.Code"`, `expr "..."`, `value "..."`, `template "..."`
	Found  bool   // false when a from path is not in the record
	Raw    string // the value before the transforms
	Steps  []Step
	Value  string
	// Omitted is true when omit_empty left the field out.
	Omitted bool
	Err     string
}

// Step is one transform and the value after it.
type Step struct {
	Name  string // lookup, default, trim, max_length 80, omit_empty, ...
	Value string
}

// trace collects a SourceTrace's raw value and steps; nil collects nothing.
type trace struct {
	raw   string
	found bool
	steps []Step
}

func (t *trace) step(name, v string) {
	if t != nil {
		t.steps = append(t.steps, Step{Name: name, Value: v})
	}
}

// Explain maps rec like Map and says how: the filter's outcome, and for the incident id,
// the user id and every field its source, raw value and each transform's result. Every
// part is evaluated even after an error or a false filter; the error is Map's.
func (m *Mapper) Explain(rec adapters.Record) (Explanation, error) {
	var e Explanation
	e.Result, e.Err = m.Map(rec)

	var env map[string]any
	if m.plan.used {
		var pooled bool
		env, pooled = m.env(rec)
		if pooled {
			defer m.releaseEnv(env)
		}
	}
	if m.filter != nil {
		ft := &FilterTrace{Expr: m.filterSrc}
		if out, err := run(m.filter, env); err != nil {
			ft.Err = exprError(err)
		} else {
			b, _ := out.(bool)
			ft.Result = strconv.FormatBool(b)
		}
		e.Filter = ft
	}
	vals := make([]resolved, len(m.paths.nodes))
	m.paths.resolve(rec, vals)

	traceID := func(s *source) SourceTrace {
		var tr trace
		st := m.traceHead(s, rec, vals)
		v, err := s.id(rec, vals, env, &tr)
		st.Raw, st.Steps, st.Value = tr.raw, tr.steps, v
		if err != nil {
			st.Err = errMsg(err)
		}
		return st
	}
	e.IncidentID = traceID(&m.incident)
	if m.hasUser {
		u := traceID(&m.user)
		e.UserID = &u
	}
	for i := range m.fields {
		f := &m.fields[i]
		var tr trace
		st := m.traceHead(&f.source, rec, vals)
		st.Name = f.name
		v, omit, _, err := f.eval(rec, vals, env, &tr)
		st.Raw, st.Steps, st.Value, st.Omitted = tr.raw, tr.steps, v, omit
		if err != nil {
			st.Err = errMsg(err)
		}
		e.Fields = append(e.Fields, st)
	}
	return e, e.Err
}

func (m *Mapper) traceHead(s *source, rec adapters.Record, vals []resolved) SourceTrace {
	st := SourceTrace{Key: s.key, Source: kindNames[s.kind] + " " + strconv.Quote(s.text), Found: true}
	if s.kind == kindFrom {
		_, st.Found = get(rec, vals, s.node)
	}
	return st
}

func errMsg(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Msg
	}
	return err.Error()
}

// String renders the explanation as text, one block per value:
//
//	filter Status != "CLOSED" → true
//	incident_id: from "IncidentNumber"
//	    raw         "260045123"
//	    = "260045123"
//	fields[2] Priority: from "Pri"
//	    raw         "1"
//	    lookup      "High"
//	    = "High"
func (e Explanation) String() string {
	var b strings.Builder
	if f := e.Filter; f != nil {
		b.WriteString("filter " + f.Expr + " → ")
		if f.Err != "" {
			b.WriteString("error: " + f.Err)
		} else {
			b.WriteString(f.Result)
		}
		b.WriteString("\n")
	}
	e.IncidentID.write(&b)
	if e.UserID != nil {
		e.UserID.write(&b)
	}
	for _, f := range e.Fields {
		f.write(&b)
	}
	return b.String()
}

func (s SourceTrace) write(b *strings.Builder) {
	b.WriteString(s.Key)
	if s.Name != "" {
		b.WriteString(" " + s.Name)
	}
	b.WriteString(": " + s.Source + "\n")
	switch {
	case !s.Found:
		b.WriteString("    raw         (not in record)\n")
	default:
		b.WriteString("    raw         " + strconv.Quote(s.Raw) + "\n")
	}
	for _, st := range s.Steps {
		name := st.Name
		if len(name) < 11 {
			name += strings.Repeat(" ", 11-len(name))
		}
		b.WriteString("    " + name + " " + strconv.Quote(st.Value) + "\n")
	}
	switch {
	case s.Err != "":
		b.WriteString("    error: " + s.Err + "\n")
	case s.Omitted:
	default:
		b.WriteString("    = " + strconv.Quote(s.Value) + "\n")
	}
}
