package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Expressions see the record's top-level keys as variables. Records are dynamic maps: without
// mapping.sample, programs are compiled against an empty map environment with
// AllowUndefinedVariables, and a misspelt name is simply nil at run time (syntax, unknown
// functions and wrong helper arity are still caught by Compile). With mapping.sample they
// are compiled against the sample record, so an unknown name is a compile-time problem.
// A record key that is also a builtin's name (type, len, now, ...) is read as $env.type.
// A member of a missing value is a run-time error (Loc.Street when Loc is absent): write
// Loc?.Street, or Loc?.Street ?? "" for a default.
//
// Numbers: records decoded from JSON carry json.Number, which expr cannot compare or add.
// Before running, the values the expressions read are converted (copy-on-write, the record
// itself is never modified; see env.go):
//   - an integer literal that fits in int64 → int (so Pri == 1, Count > 2, Id + 1 work)
//   - a decimal or exponent literal → float64 (Lat > 40.5 works; exactness is lost, so
//     str(Amount) of 12.50 is "12.5" — use `from:` to copy a number without loss)
//   - an integer literal too large for int64 → string, to keep long ids exact
//   - []byte → string
//
// Strings stay strings: Pri == "1" is true only when the record holds the string "1", and
// "No. " + Loc.Number is an error when Number is a number: write str(Loc.Number). A filter
// whose result is nil (a missing flag) counts as false.
// Helpers: str(x), num(x), coalesce(a, b, ...), join(list, sep), digits(x),
// parse_time(s [, layout]), format_time(t [, layout [, zone]]), substr(s, start [, length]),
// extract(s, regex [, group]), xml(s), deref(list, reference [, key]); expr-lang's builtins (upper, lower, trim, split,
// replace, hasPrefix, filter, map, first, ...) are there too. See helpers.go.
//
// exprOptions are the helpers; Compile adds the environment (an empty map with undefined
// variables allowed, or the sample record).
func exprOptions(tp *timeParser) []expr.Option {
	return []expr.Option{
		expr.Function("str", func(a ...any) (any, error) { return String(a[0]), nil },
			new(func(any) string)),
		expr.Function("num", func(a ...any) (any, error) { return toFloat(a[0]) },
			new(func(any) float64)),
		expr.Function("coalesce", func(a ...any) (any, error) {
			for _, v := range a {
				if !isEmpty(v) {
					return v, nil
				}
			}
			return nil, nil
		}, new(func(...any) any)),
		expr.Function("join", func(a ...any) (any, error) {
			sep := ""
			if len(a) > 1 {
				sep = String(a[1])
			}
			return join(a[0], sep)
		}, new(func(any) string), new(func(any, string) string)),
		expr.Function("digits", func(a ...any) (any, error) { return digits(String(a[0])), nil },
			new(func(any) string)),
		expr.Function("parse_time", func(a ...any) (any, error) {
			layout := ""
			if len(a) > 1 {
				layout = String(a[1])
			}
			return tp.parse(a[0], layout)
		}, new(func(any) any), new(func(any, string) any)),
		expr.Function("format_time", func(a ...any) (any, error) {
			layout, zone := "", ""
			if len(a) > 1 {
				layout = String(a[1])
			}
			if len(a) > 2 {
				zone = String(a[2])
			}
			return formatTime(a[0], layout, zone, tp)
		}, new(func(any) string), new(func(any, string) string), new(func(any, string, string) string)),
		expr.Function("substr", func(a ...any) (any, error) {
			length := -1
			if len(a) > 2 {
				length = a[2].(int)
			}
			return substr(String(a[0]), a[1].(int), length), nil
		}, new(func(any, int) string), new(func(any, int, int) string)),
		expr.Function("extract", func(a ...any) (any, error) {
			group := -1
			if len(a) > 2 {
				group = a[2].(int)
			}
			return extract(String(a[0]), String(a[1]), group)
		}, new(func(any, string) string), new(func(any, string, int) string)),
		expr.Function("xml", func(a ...any) (any, error) { return parseXML(a[0]) },
			new(func(any) any)),
		expr.Function("deref", func(a ...any) (any, error) {
			key := "$id"
			if len(a) > 2 {
				key = String(a[2])
			}
			return deref(a[0], a[1], key), nil
		}, new(func(any, any) any), new(func(any, any, string) any)),
	}
}

// helperNames are our helpers, for error messages and the unknown-function check.
var helperNames = []string{"str", "num", "coalesce", "join", "digits", "parse_time", "format_time", "substr", "extract", "xml", "deref"}

// functionNames are the functions an expression can call: expr's builtins and our helpers.
var functionNames = func() map[string]bool {
	names := map[string]bool{}
	for _, n := range helperNames {
		names[n] = true
	}
	for _, f := range builtin.Builtins {
		names[f.Name] = true
	}
	return names
}()

// exprError shortens an expr error to one line: message and position, no snippet.
func exprError(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return quoteUnknown(fe.Message) + " (line " + strconv.Itoa(fe.Line) + ", column " + strconv.Itoa(fe.Column+1) + ")"
		}
		return quoteUnknown(fe.Message)
	}
	return err.Error()
}

// quoteUnknown turns expr's `unknown name Adress` into `unknown name "Adress"`.
func quoteUnknown(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "unknown name "); ok && !strings.ContainsAny(rest, " \"") {
		return "unknown name " + strconv.Quote(rest)
	}
	return msg
}

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

func run(p *vm.Program, env map[string]any) (any, error) {
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(p, env)
	vmPool.Put(m)
	return out, err
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float32:
		return float64(x), nil
	}
	s := strings.TrimSpace(String(v))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("num: " + strconv.Quote(String(v)) + " is not a number")
	}
	return f, nil
}

func join(list any, sep string) (string, error) {
	var b strings.Builder
	add := func(i int, v any) {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(String(v))
	}
	switch l := list.(type) {
	case nil:
	case []any:
		for i, v := range l {
			add(i, v)
		}
	case []string:
		for i, v := range l {
			add(i, v)
		}
	default:
		return "", errors.New("join: first argument is a " + typeName(list) + ", not a list")
	}
	return b.String(), nil
}

func digits(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int, int64, float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
