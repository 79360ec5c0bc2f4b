package mapping

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/go-viper/mapstructure/v2"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
	"github.com/cad-sidecar/cad-sidecar/internal/suggest"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Mapper is a compiled mapping. It is immutable and safe for concurrent use.
type Mapper struct {
	incident source
	user     source
	hasUser  bool
	// Every path, resolved once per record sharing prefixes; source.node is a pathSet node.
	paths     pathSet
	filter    *vm.Program
	filterSrc string
	fields    []field
	note      noteTemplates
	call      callNotes // note.summary, note.transcript (summary.go)
	loc       *time.Location

	// Expression environment: what the programs read of the record (see env.go).
	plan    envPlan
	envPool sync.Pool

	unparsed atomic.Uint64  // Result.UnparsedTimes, counted
	warnings []Problem      // what Compile could not check (Warnings)
	input    record.Options // mapping.input
}

type fieldKind uint8

const (
	kindFrom fieldKind = iota
	kindExpr
	kindValue
	kindTemplate
)

var kindNames = [...]string{"from", "expr", "value", "template"}

// source is a compiled Source: where a value comes from and its transforms.
type source struct {
	key       string // "fields[1]", "incident_id"
	kind      fieldKind
	text      string // the path, expression, constant or template as written
	node      int    // pathSet node of from
	prog      *vm.Program
	tmpl      *template.Template
	fast      *fastTemplate // tmpl without reflection, when it is simple enough
	lookup    map[string]string
	def       string
	trim      bool
	maxLen    int
	required  bool
	omitEmpty bool
}

type field struct {
	name, desc string
	source
}

// Result is the outcome of mapping one record.
type Result struct {
	Request assist.LinkIncidentRequest
	// Filtered is true when the filter returned false; Request is then zero.
	Filtered bool
	// Reason says why a record was filtered, e.g. `filter Status != "CLOSED" is false`.
	Reason string
	// UnparsedTimes names the fields left empty because their expression's parse_time (or
	// format_time) could not read a time: for a field that is not required, such a time is
	// empty (then default, omit_empty apply) and the record is sent; for a required field,
	// the incident id and the user id it is an error.
	UnparsedTimes []string
}

// Error is a record the mapping cannot handle. Key is the key path under mapping
// ("incident_id", "filter", "fields[1]"); Field is the field's name for fields.
type Error struct {
	Key   string
	Field string
	Msg   string
	Err   error // the underlying expression or template error, if any
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

// Options are what Compile needs from outside the mapping section.
type Options struct {
	// Dir is the folder relative paths (mapping.sample) are read from: the config file's
	// folder. "" is the working directory.
	Dir string
}

// Compile is CompileWith(c, Options{}).
func Compile(c Config) (*Mapper, []Problem) { return CompileWith(c, Options{}) }

// compiler holds the state of one CompileWith.
type compiler struct {
	m      *Mapper
	probs  []Problem
	opts   []expr.Option // every expression's options (the filter adds AsBool)
	sample adapters.Record
	env    map[string]any // the sample as expressions see it
	// unchecked is what the sample would have checked (for the warning without one).
	unchecked unchecked
}

func (cp *compiler) add(key, msg string) { cp.probs = append(cp.probs, Problem{Key: key, Msg: msg}) }

// CompileWith checks c and compiles every path, expression and template once. It applies
// the defaults of SetDefaults to its own copy. Problems lists every problem found, in key
// order; the Mapper is nil when there are any.
func CompileWith(c Config, o Options) (*Mapper, []Problem) {
	c.SetDefaults()
	cp := &compiler{m: &Mapper{}}
	m := cp.m

	loc, err := loadLocation(c.Timezone)
	if err != nil {
		cp.add("timezone", err.Error())
		loc = time.UTC
	}
	m.loc = loc
	if i, err := checkLayouts(c.TimeLayouts); err != nil {
		cp.add("time_layouts["+strconv.Itoa(i)+"]", strconv.Quote(c.TimeLayouts[i])+" "+err.Error())
	}
	cp.opts = exprOptions(&timeParser{loc: loc, layouts: c.TimeLayouts})
	m.input = cp.compileInput(c.Input)
	if s := strings.TrimSpace(c.Sample); s != "" {
		file := s
		if !filepath.IsAbs(file) && o.Dir != "" {
			file = filepath.Join(o.Dir, file)
		}
		rec, err := loadSample(file, m.input)
		if err != nil {
			cp.add("sample", "cannot use "+strconv.Quote(s)+": "+err.Error())
		} else {
			cp.sample = rec
			env, _ := exprValue(map[string]any(rec))
			cp.env = env.(map[string]any)
			cp.opts = append([]expr.Option{expr.Env(cp.env)}, cp.opts...)
		}
	}
	if cp.env == nil {
		cp.opts = append([]expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables()}, cp.opts...)
	}

	if s, ok, shorthand := cp.decodeSource("incident_id", c.IncidentID); !ok {
		if !cp.has("incident_id") {
			cp.add("incident_id", `is required: the path of the incident number in the record, e.g. "IncidentNumber"`)
		}
	} else {
		if s.OmitEmpty {
			cp.add("incident_id.omit_empty", "is only for fields: the incident id is always required")
		}
		s.Required = true
		m.incident = cp.source("incident_id", s, shorthand)
	}
	if s, ok, shorthand := cp.decodeSource("user_id", c.UserID); ok {
		if s.OmitEmpty {
			cp.add("user_id.omit_empty", "is only for fields: an empty user id is sent as \"\"")
		}
		m.user, m.hasUser = cp.source("user_id", s, shorthand), true
	}
	if src := strings.TrimSpace(c.Filter); src != "" {
		if p, err := cp.compileExpr(src, true); err != nil {
			cp.add("filter", "cannot compile "+strconv.Quote(c.Filter)+": "+exprError(err))
		} else {
			m.filter, m.filterSrc = p, src
			cp.tryExpr("filter", src, p)
			if cp.sample == nil {
				cp.unchecked.exprs = append(cp.unchecked.exprs, "filter")
			}
		}
	}

	seen := map[string]int{}
	for i, f := range c.Fields {
		key := "fields[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(f.Name) == "" {
			cp.add(key+".name", "is required"+describe(f.Source()))
		} else if j, dup := seen[f.Name]; dup {
			cp.add(key+".name", "duplicate name "+strconv.Quote(f.Name)+" (also fields["+strconv.Itoa(j)+"])")
		} else {
			seen[f.Name] = i
		}
		m.fields = append(m.fields, field{name: f.Name, desc: f.Description, source: cp.source(key, f.Source(), false)})
	}

	cp.compileNotes(c.Note)
	cp.compileCallNotes(c.Note)

	if w, ok := cp.unchecked.warning(); ok && strings.TrimSpace(c.Sample) == "" {
		m.warnings = append([]Problem{w}, m.warnings...)
	}
	if len(cp.probs) > 0 {
		return nil, cp.probs
	}
	m.plan.freeze()
	size := len(m.plan.keys)
	m.envPool.New = func() any { return make(map[string]any, size) }
	return m, nil
}

func (cp *compiler) has(keyPrefix string) bool {
	for _, p := range cp.probs {
		if p.Key == keyPrefix || strings.HasPrefix(p.Key, keyPrefix+".") {
			return true
		}
	}
	return false
}

var sourceKeys = func() map[string]bool {
	keys := map[string]bool{}
	for _, k := range []string{"from", "expr", "value", "template", "lookup", "default", "trim", "max_length", "required", "omit_empty"} {
		keys[k] = true
	}
	return keys
}()

// decodeSource reads incident_id or user_id: a path, a Source or a map of Source's keys.
// ok is false when it is not set (or unusable; the problem is then recorded).
func (cp *compiler) decodeSource(key string, v any) (s Source, ok, shorthand bool) {
	switch x := v.(type) {
	case nil:
		return s, false, false
	case string:
		if strings.TrimSpace(x) == "" {
			return s, false, false
		}
		return Source{From: x}, true, true
	case Source:
		return x, true, false
	case *Source:
		if x == nil {
			return s, false, false
		}
		return *x, true, false
	case map[string]any:
		bad := false
		for _, k := range sortedKeys(x) {
			if !sourceKeys[k] {
				msg := "unknown key"
				if s := closestKey(k, sourceKeys); s != "" {
					msg += " (did you mean " + strconv.Quote(s) + "?)"
				}
				cp.add(key+"."+k, msg)
				bad = true
			}
		}
		if bad {
			return s, false, false
		}
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			Result: &s, TagName: "koanf", WeaklyTypedInput: true,
		})
		if err == nil {
			err = dec.Decode(x)
		}
		if err != nil {
			cp.add(key, "cannot read: "+strings.ReplaceAll(err.Error(), "\n", " "))
			return s, false, false
		}
		return s, true, false
	}
	cp.add(key, "expected a path or a section with one of from, expr, value, template; got "+typeName(v))
	return s, false, false
}

// source compiles s under key. With shorthand (incident_id: Path) the path's problems are
// reported on key itself.
func (cp *compiler) source(key string, s Source, shorthand bool) source {
	out := source{key: key, lookup: s.Lookup, def: s.Default, trim: s.Trim, maxLen: s.MaxLength,
		required: s.Required, omitEmpty: s.OmitEmpty, node: -1}
	if s.MaxLength < 0 {
		cp.add(key+".max_length", "must be 0 (no limit) or more, got "+strconv.Itoa(s.MaxLength))
	}
	var set []string
	for i, v := range []string{s.From, s.Expr, s.Value, s.Template} {
		if v != "" {
			set = append(set, kindNames[i]+" "+strconv.Quote(v))
			out.kind, out.text = fieldKind(i), v
		}
	}
	if len(set) != 1 {
		msg := "exactly one of from, expr, value, template is required"
		if len(set) > 1 {
			msg += " (got " + strings.Join(set, " and ") + ")"
		} else {
			msg += " (got none)"
		}
		cp.add(key, msg)
		return out
	}
	sub := key + "." + kindNames[out.kind]
	if shorthand {
		sub = key
	}
	switch out.kind {
	case kindFrom:
		out.text = strings.TrimSpace(out.text)
		p, err := ParsePath(out.text)
		if err != nil {
			cp.add(sub, "invalid path "+strconv.Quote(s.From)+": "+err.Error())
			return out
		}
		out.node = cp.m.paths.add(p)
		if cp.sample == nil {
			cp.unchecked.paths = append(cp.unchecked.paths, sub)
		} else {
			if missing := missingKey(p, cp.sample); missing != "" {
				cp.add(sub, strconv.Quote(s.From)+": the sample record has no "+strconv.Quote(missing))
			}
		}
	case kindExpr:
		p, err := cp.compileExpr(out.text, false)
		if err != nil {
			cp.add(sub, "cannot compile "+strconv.Quote(out.text)+": "+exprError(err))
			return out
		}
		out.prog = p
		cp.tryExpr(sub, out.text, p)
		if cp.sample == nil {
			cp.unchecked.exprs = append(cp.unchecked.exprs, sub)
		}
	case kindTemplate:
		t, err := parseRecordTemplate(sub, out.text)
		if err != nil {
			cp.add(sub, "cannot parse "+strconv.Quote(out.text)+": "+templateError(err))
			return out
		}
		out.tmpl, out.fast = t, compileFast(out.text)
		cp.checkTemplate(sub, out.text, t)
	}
	return out
}

// compileExpr compiles an expression and notes what it reads of the record.
func (cp *compiler) compileExpr(src string, asBool bool) (*vm.Program, error) {
	opts := cp.opts
	if asBool {
		opts = append(slices.Clip(opts), expr.AsBool())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, err
	}
	if err := cp.m.plan.analyze(p); err != nil {
		return nil, err
	}
	return p, nil
}

// tryExpr runs a compiled expression on the sample record, if there is one.
func (cp *compiler) tryExpr(key, src string, p *vm.Program) {
	if cp.env == nil {
		return
	}
	if _, err := run(p, cp.env); err != nil {
		cp.add(key, strconv.Quote(src)+" fails on the sample record: "+exprError(err))
	}
}

// missingKey returns the first key of p that is absent from a map of rec it passes
// through ("" when p resolves, or stops at a list index or a non-map value).
func missingKey(p Path, rec any) string {
	v := rec
	for _, s := range p.Steps() {
		if s.IsIndex {
			var ok bool
			if v, ok = s.Apply(v); !ok {
				return ""
			}
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return ""
		}
		x, ok := m[s.Key]
		if !ok {
			return s.Key
		}
		v = x
	}
	return ""
}

// describe identifies a field without a name by its source, for problem messages.
func describe(s Source) string {
	for i, v := range []string{s.From, s.Expr, s.Value, s.Template} {
		if v != "" {
			return " (the field with " + kindNames[i] + " " + strconv.Quote(v) + ")"
		}
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

	id, err := m.incident.id(rec, vals, env, nil)
	if err == nil {
		err = m.incident.checkID(id)
	}
	if err != nil {
		return Result{}, err
	}
	req := assist.LinkIncidentRequest{IncidentID: id}
	if m.hasUser {
		if req.UserID, err = m.user.id(rec, vals, env, nil); err != nil {
			return Result{}, err
		}
	}

	req.Fields = make([]assist.IncidentField, 0, len(m.fields))
	var unparsedTimes []string
	for i := range m.fields {
		f := &m.fields[i]
		val, omit, unparsed, err := f.eval(rec, vals, env, nil)
		if err != nil {
			return Result{}, err
		}
		if unparsed {
			unparsedTimes = append(unparsedTimes, f.name)
		}
		if !omit {
			req.Fields = append(req.Fields, assist.IncidentField{Name: f.name, Description: f.desc, Value: val})
		}
	}
	if len(unparsedTimes) > 0 {
		m.unparsed.Add(uint64(len(unparsedTimes)))
	}
	return Result{Request: req, UnparsedTimes: unparsedTimes}, nil
}

// isTimeError reports whether err comes from a time parse_time could not read. (Kept out
// of eval: errors.As's target would escape to the heap on every call.)
func isTimeError(err error) bool {
	var te *TimeError
	return errors.As(err, &te)
}

// UnparsedTimes is how many field values Map has left empty because parse_time could not
// read a time (see Result.UnparsedTimes) since the Mapper was compiled.
func (m *Mapper) UnparsedTimes() uint64 { return m.unparsed.Load() }

// id evaluates incident_id or user_id.
func (s *source) id(rec adapters.Record, vals []resolved, env map[string]any, tr *trace) (string, error) {
	if s.kind == kindFrom && !s.required {
		// user_id: a missing path is "", as is an empty value.
		v, err := s.raw(rec, vals, env)
		if err != nil {
			return "", err
		}
		return s.finish(v, tr), nil
	}
	if s.kind == kindFrom {
		if _, ok := get(rec, vals, s.node); !ok && s.def == "" {
			if tr != nil {
				tr.raw, tr.found = "", false
			}
			return "", &Error{Key: s.key, Msg: strconv.Quote(s.text) + " not found in record"}
		}
	}
	v, err := s.raw(rec, vals, env)
	if err != nil {
		return "", err
	}
	out := s.finish(v, tr)
	if out == "" && s.required {
		what := strconv.Quote(s.text)
		if s.kind != kindFrom {
			what = kindNames[s.kind] + " " + what
		}
		return "", &Error{Key: s.key, Msg: what + " is empty in record"}
	}
	return out, nil
}

// eval evaluates a field: its value, or omit when omit_empty drops it. unparsed is set
// when the field is empty because parse_time could not read a time (an error instead
// when the field is required).
func (f *field) eval(rec adapters.Record, vals []resolved, env map[string]any, tr *trace) (val string, omit, unparsed bool, err error) {
	v, err := f.raw(rec, vals, env)
	switch {
	case err == nil:
	case !f.required && isTimeError(err):
		v, unparsed = "", true
		if tr != nil {
			tr.raw = ""
			tr.step("unparsed time", "(empty: "+errMsg(err)+")")
		}
	default:
		if e, ok := err.(*Error); ok {
			e.Field = f.name
		}
		return "", false, false, err
	}
	s := f.finish(v, tr)
	if s == "" {
		if f.required {
			return "", false, false, &Error{Key: f.key, Field: f.name, Msg: "is required but empty (" + kindNames[f.kind] + " " + strconv.Quote(f.text) + ")"}
		}
		if f.omitEmpty {
			if tr != nil {
				tr.step("omit_empty", "(left out)")
			}
			return "", true, unparsed, nil
		}
	}
	return s, false, unparsed, nil
}

// raw is the value before the transforms, as text: "" when a path is missing.
func (s *source) raw(rec adapters.Record, vals []resolved, env map[string]any) (string, error) {
	switch s.kind {
	case kindFrom:
		if v, ok := get(rec, vals, s.node); ok {
			return String(v), nil
		}
		return "", nil
	case kindExpr:
		out, err := run(s.prog, env)
		if err != nil {
			return "", &Error{Key: s.key, Msg: exprError(err), Err: err}
		}
		return String(out), nil
	case kindTemplate:
		if s.fast != nil {
			if out, ok := s.fast.render(rec); ok {
				return out, nil
			}
		}
		out, err := execRecordTemplate(s.tmpl, rec)
		if err != nil {
			return "", &Error{Key: s.key, Msg: templateError(err), Err: err}
		}
		return out, nil
	}
	return s.text, nil
}

// finish applies lookup and default, trim and max_length.
func (s *source) finish(v string, tr *trace) string {
	if tr != nil {
		tr.raw = v
	}
	if s.lookup != nil {
		if out, ok := s.lookup[v]; ok {
			v = out
			tr.step("lookup", v)
		} else if s.def != "" {
			v = s.def
			tr.step("lookup miss → default", v)
		} else {
			tr.step("lookup miss (kept)", v)
		}
	}
	if v == "" && s.def != "" {
		v = s.def
		tr.step("default", v)
	}
	if s.trim {
		v = strings.TrimSpace(v)
		tr.step("trim", v)
	}
	if s.maxLen > 0 && len(v) > s.maxLen {
		v = truncate(v, s.maxLen)
		tr.step("max_length "+strconv.Itoa(s.maxLen), v)
	}
	return v
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// Pure reports whether Map's result depends on the record alone: the same record (equal
// values) always maps to the same Result. It is false when an expression calls now().
// A caller may then remember a record's outcome and skip mapping it again (see
// sidecar.Memo); a new Mapper (a reload) starts with nothing remembered.
func (m *Mapper) Pure() bool { return !m.plan.clock }

// IncidentID extracts the incident id of rec; false when it is missing or empty, when
// its expression or template fails, or when it is not a usable id (ident.Check: then the
// id comes back cut by ident.ForLog, fit for a log line and nothing else).
func (m *Mapper) IncidentID(rec adapters.Record) (string, bool) {
	if m.incident.kind == kindFrom && m.incident.lookup == nil && m.incident.def == "" &&
		!m.incident.trim && m.incident.maxLen == 0 {
		v, ok := m.incident.path().Lookup(rec)
		if !ok {
			return "", false
		}
		return usableID(String(v))
	}
	var env map[string]any
	if m.plan.used {
		var pooled bool
		env, pooled = m.env(rec)
		if pooled {
			defer m.releaseEnv(env)
		}
	}
	vals := make([]resolved, len(m.paths.nodes))
	m.paths.resolve(rec, vals)
	id, err := m.incident.id(rec, vals, env, nil)
	if err != nil {
		return "", false
	}
	return usableID(id)
}

// usableID is id and true when it passes ident.Check; else ident.ForLog(id) and false.
func usableID(id string) (string, bool) {
	if ident.Check("incident_id", id) != nil {
		return ident.ForLog(id), false
	}
	return id, true
}

// checkID applies ident.Check to the incident id the mapping produced: a CAD record whose
// id is ".", "..", over ident.MaxLen bytes, not UTF-8 or with control characters is a
// mapping error (reported and skipped), never a link or a CAD URL.
func (s *source) checkID(id string) error {
	if err := ident.Check(strconv.Quote(s.text), id); err != nil {
		return &Error{Key: s.key, Msg: err.Error() + " (not a usable incident id)"}
	}
	return nil
}

func (s *source) path() Path {
	p, _ := ParsePath(s.text)
	return p
}

// execRecordTemplate renders a template of parseRecordTemplate over a record.
func execRecordTemplate(t *template.Template, rec any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, rec); err != nil {
		return "", err
	}
	return b.String(), nil
}

// textFunc ends every printing action of a record template (parseRecordTemplate).
const textFunc = "_text"

// parseRecordTemplate parses a template over records. Each action that prints is piped into
// String, as html/template adds its escapers: a value prints as from: copies it (a SQL
// row's 1500000.0 as "1500000", not fmt's "1.5e+06"; a time in RFC 3339; bytes as text)
// and a missing key prints as "" (fmt's "<no value>" is never written, so record text
// that reads "<no value>" is kept).
func parseRecordTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(TemplateFuncs()).Funcs(template.FuncMap{textFunc: String, getFunc: getField}).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			printAsText(tt.Tree, tt.Tree.Root)
		}
	}
	return t, nil
}

func printAsText(tree *parse.Tree, n parse.Node) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x != nil {
			for _, c := range x.Nodes {
				printAsText(tree, c)
			}
		}
	case *parse.ActionNode:
		nilSafeFields(tree, x.Pipe)
		if len(x.Pipe.Decl) == 0 { // {{$v := ...}} and {{$v = ...}} print nothing
			id := parse.NewIdentifier(textFunc).SetTree(tree).SetPos(x.Pos)
			x.Pipe.Cmds = append(x.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: x.Pos, Args: []parse.Node{id}})
		}
	case *parse.IfNode:
		nilSafeFields(tree, x.Pipe)
		printAsText(tree, x.List)
		printAsText(tree, x.ElseList)
	case *parse.RangeNode:
		nilSafeFields(tree, x.Pipe)
		printAsText(tree, x.List)
		printAsText(tree, x.ElseList)
	case *parse.WithNode:
		nilSafeFields(tree, x.Pipe)
		printAsText(tree, x.List)
		printAsText(tree, x.ElseList)
	}
}

// getFunc reads a field chain of a record template (nilSafeFields).
const getFunc = "_get"

// nilSafeFields rewrites each field chain .A.B of p into (_get . "A" "B"), so that a
// member of a null value (an xsi:nil element, a JSON null) is empty, as a member of a
// missing key is, instead of text/template's "nil pointer evaluating" error.
func nilSafeFields(tree *parse.Tree, p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for i, a := range c.Args {
			switch x := a.(type) {
			case *parse.FieldNode:
				if len(x.Ident) < 2 || (i == 0 && len(c.Args) > 1) { // .T.Format "2006" calls a method
					continue
				}
				args := []parse.Node{parse.NewIdentifier(getFunc).SetTree(tree).SetPos(x.Pos), &parse.DotNode{NodeType: parse.NodeDot, Pos: x.Pos}}
				for _, k := range x.Ident {
					args = append(args, &parse.StringNode{NodeType: parse.NodeString, Pos: x.Pos, Quoted: strconv.Quote(k), Text: k})
				}
				c.Args[i] = &parse.PipeNode{NodeType: parse.NodePipe, Pos: x.Pos, Line: p.Line,
					Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: x.Pos, Args: args}}}
			case *parse.PipeNode:
				nilSafeFields(tree, x)
			}
		}
	}
}

// getField is _get: the value at keys below dot, nil when a key is missing or a value
// on the way is nil. On a value that is not a map a key is, as in text/template, a method
// without arguments (a SQL time's .Unix) or a struct field; anything else is an error.
func getField(dot any, keys ...string) (any, error) {
	v := dot
	for _, k := range keys {
		switch m := v.(type) {
		case nil:
			return nil, nil
		case map[string]any:
			v = m[k]
		default:
			rv := reflect.ValueOf(v)
			if meth := rv.MethodByName(k); meth.IsValid() && meth.Type().NumIn() == 0 && (meth.Type().NumOut() == 1 || meth.Type().NumOut() == 2) {
				out := meth.Call(nil)
				if len(out) == 2 && !out[1].IsNil() {
					err, _ := out[1].Interface().(error)
					return nil, err
				}
				v = out[0].Interface()
				continue
			}
			for rv.Kind() == reflect.Pointer && !rv.IsNil() {
				rv = rv.Elem()
			}
			if rv.Kind() == reflect.Struct {
				if f := rv.FieldByName(k); f.IsValid() && f.CanInterface() {
					v = f.Interface()
					continue
				}
			}
			return nil, errors.New("can't evaluate field " + k + " in type " + fmt.Sprintf("%T", v))
		}
	}
	return v, nil
}

func loadLocation(name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &timezoneError{name}
	}
	return loc, nil
}

type timezoneError struct{ name string }

func (e *timezoneError) Error() string {
	return "unknown time zone " + strconv.Quote(e.name) + ` (an IANA name such as "America/Chicago", or "UTC")`
}

func closestKey(k string, known map[string]bool) string {
	return suggest.Closest(k, sortedKeys(known))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
