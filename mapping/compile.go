package mapping

import (
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/expr-lang/expr/vm"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
)

// Mapper is a compiled mapping. It is immutable and safe for concurrent use.
type Mapper struct {
	incidentID Path
	userID     Path
	hasUser    bool
	// Every path, resolved once per record sharing prefixes; the ints are pathSet nodes.
	paths                  pathSet
	incidentNode, userNode int
	filter                 *vm.Program
	filterSrc              string
	fields                 []field
	note                   *template.Template

	// Expression environment: what the programs read of the record (see env.go).
	plan    envPlan
	envPool sync.Pool
}

type fieldKind uint8

const (
	kindFrom fieldKind = iota
	kindExpr
	kindValue
)

type field struct {
	name, desc string
	kind       fieldKind
	node       int // pathSet node of from
	prog       *vm.Program
	value      string
	lookup     map[string]string
	def        string
	key        string // "fields[1]"
}

// Result is the outcome of mapping one record.
type Result struct {
	Request assist.LinkIncidentRequest
	// Filtered is true when the filter returned false; Request is then zero.
	Filtered bool
	// Reason says why a record was filtered, e.g. `filter Status != "CLOSED" is false`.
	Reason string
}

// Error is a record the mapping cannot handle. Key is the key path under mapping
// ("incident_id", "filter", "fields[1]"); Field is the field's name for fields.
type Error struct {
	Key   string
	Field string
	Msg   string
	Err   error // the underlying expression error, if any
}

func (e *Error) Error() string {
	switch {
	case e.Field != "":
		return "mapping." + e.Key + " (" + e.Field + "): " + e.Msg
	case e.Key == "incident_id" || e.Key == "user_id":
		return e.Key + ": " + e.Msg
	}
	return "mapping." + e.Key + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Compile checks c and compiles every path, expression and template once. It applies the
// defaults of SetDefaults to its own copy. Problems lists every problem found, in key order;
// the Mapper is nil when there are any.
func Compile(c Config) (*Mapper, []Problem) {
	c.SetDefaults()
	var probs []Problem
	add := func(key, msg string) { probs = append(probs, Problem{Key: key, Msg: msg}) }
	m := &Mapper{}
	// compile compiles an expression and notes what it reads of the record.
	compile := func(src string, asBool bool) (*vm.Program, error) {
		p, err := compileExpr(src, asBool)
		if err != nil {
			return nil, err
		}
		if err := m.plan.analyze(p); err != nil {
			return nil, err
		}
		return p, nil
	}

	if strings.TrimSpace(c.IncidentID) == "" {
		add("incident_id", `is required: the path of the incident number in the record, e.g. "IncidentNumber"`)
	} else if p, err := ParsePath(strings.TrimSpace(c.IncidentID)); err != nil {
		add("incident_id", "invalid path "+strconv.Quote(c.IncidentID)+": "+err.Error())
	} else {
		m.incidentID = p
		m.incidentNode = m.paths.add(p)
	}
	if strings.TrimSpace(c.UserID) != "" {
		if p, err := ParsePath(strings.TrimSpace(c.UserID)); err != nil {
			add("user_id", "invalid path "+strconv.Quote(c.UserID)+": "+err.Error())
		} else {
			m.userID, m.hasUser = p, true
			m.userNode = m.paths.add(p)
		}
	}
	if src := strings.TrimSpace(c.Filter); src != "" {
		if p, err := compile(src, true); err != nil {
			add("filter", "cannot compile "+strconv.Quote(c.Filter)+": "+exprError(err))
		} else {
			m.filter, m.filterSrc = p, src
		}
	}

	seen := map[string]int{}
	for i, f := range c.Fields {
		key := "fields[" + strconv.Itoa(i) + "]"
		cf := field{name: f.Name, desc: f.Description, lookup: f.Lookup, def: f.Default, key: key}
		if strings.TrimSpace(f.Name) == "" {
			add(key+".name", "is required"+describe(f))
		} else if j, dup := seen[f.Name]; dup {
			add(key+".name", "duplicate name "+strconv.Quote(f.Name)+" (also fields["+strconv.Itoa(j)+"])")
		} else {
			seen[f.Name] = i
		}
		var set []string
		if f.From != "" {
			set = append(set, "from "+strconv.Quote(f.From))
		}
		if f.Expr != "" {
			set = append(set, "expr "+strconv.Quote(f.Expr))
		}
		if f.Value != "" {
			set = append(set, "value "+strconv.Quote(f.Value))
		}
		switch {
		case len(set) != 1:
			msg := "exactly one of from, expr, value is required"
			if len(set) > 1 {
				msg += " (got " + strings.Join(set, " and ") + ")"
			} else {
				msg += " (got none)"
			}
			add(key, msg)
		case f.From != "":
			cf.kind = kindFrom
			if p, err := ParsePath(strings.TrimSpace(f.From)); err != nil {
				add(key+".from", "invalid path "+strconv.Quote(f.From)+": "+err.Error())
			} else {
				cf.node = m.paths.add(p)
			}
		case f.Expr != "":
			cf.kind = kindExpr
			if p, err := compile(f.Expr, false); err != nil {
				add(key+".expr", "cannot compile "+strconv.Quote(f.Expr)+": "+exprError(err))
			} else {
				cf.prog = p
			}
		default:
			cf.kind = kindValue
			cf.value = f.Value
		}
		m.fields = append(m.fields, cf)
	}

	if t, msg := compileNote(c.Note.Text); msg != "" {
		add("note.text", msg)
	} else {
		m.note = t
	}

	if len(probs) > 0 {
		return nil, probs
	}
	m.plan.freeze()
	size := len(m.plan.keys)
	m.envPool.New = func() any { return make(map[string]any, size) }
	return m, nil
}

// describe identifies a field without a name by its source, for problem messages.
func describe(f Field) string {
	switch {
	case f.From != "":
		return " (the field with from " + strconv.Quote(f.From) + ")"
	case f.Expr != "":
		return " (the field with expr " + strconv.Quote(f.Expr) + ")"
	case f.Value != "":
		return " (the field with value " + strconv.Quote(f.Value) + ")"
	}
	return ""
}

// Map maps one record. A record the filter rejects gives Filtered with a Reason. Errors
// are *Error and name the key, e.g. `mapping.fields[1] (Address): ...` or
// `incident_id: "IncidentNumber" not found in record`.
func (m *Mapper) Map(rec adapters.Record) (Result, error) {
	var env map[string]any
	if m.plan.used {
		var pooled bool
		env, pooled = m.env(rec)
		if pooled {
			defer m.releaseEnv(env)
		}
	}
	if m.filter != nil {
		out, err := run(m.filter, env)
		if err != nil {
			return Result{}, &Error{Key: "filter", Msg: strconv.Quote(m.filterSrc) + ": " + exprError(err), Err: err}
		}
		if b, _ := out.(bool); !b {
			return Result{Filtered: true, Reason: "filter " + m.filterSrc + " is false"}, nil
		}
	}

	var buf [64]resolved
	vals := buf[:]
	if n := len(m.paths.nodes); n > len(buf) {
		vals = make([]resolved, n)
	}
	m.paths.resolve(rec, vals)

	v, ok := get(rec, vals, m.incidentNode)
	if !ok {
		return Result{}, &Error{Key: "incident_id", Msg: strconv.Quote(m.incidentID.src) + " not found in record"}
	}
	req := assist.LinkIncidentRequest{IncidentID: String(v)}
	if req.IncidentID == "" {
		return Result{}, &Error{Key: "incident_id", Msg: strconv.Quote(m.incidentID.src) + " is empty in record"}
	}
	if m.hasUser {
		if v, ok := get(rec, vals, m.userNode); ok {
			req.UserID = String(v)
		}
	}

	req.Fields = make([]assist.IncidentField, len(m.fields))
	for i := range m.fields {
		f := &m.fields[i]
		val, err := f.eval(rec, vals, env)
		if err != nil {
			return Result{}, err
		}
		req.Fields[i] = assist.IncidentField{Name: f.name, Description: f.desc, Value: val}
	}
	return Result{Request: req}, nil
}

func (f *field) eval(rec adapters.Record, vals []resolved, env map[string]any) (string, error) {
	var s string
	switch f.kind {
	case kindFrom:
		if v, ok := get(rec, vals, f.node); ok {
			s = String(v)
		}
	case kindExpr:
		out, err := run(f.prog, env)
		if err != nil {
			return "", &Error{Key: f.key, Field: f.name, Msg: exprError(err), Err: err}
		}
		s = String(out)
	case kindValue:
		s = f.value
	}
	if f.lookup != nil {
		if out, ok := f.lookup[s]; ok {
			return out, nil
		}
		if f.def != "" {
			return f.def, nil
		}
	}
	if s == "" {
		return f.def, nil
	}
	return s, nil
}

// IncidentID extracts the incident id of rec; false when it is missing or empty.
func (m *Mapper) IncidentID(rec adapters.Record) (string, bool) {
	v, ok := m.incidentID.Lookup(rec)
	if !ok {
		return "", false
	}
	s := String(v)
	return s, s != ""
}
