package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Expressions see the record's top-level keys as variables. Records are dynamic maps, so in
// v1 the names cannot be type-checked: programs are compiled against an empty map
// environment with AllowUndefinedVariables, a misspelt name is simply nil at run time
// (syntax, unknown functions and wrong helper arity are still caught by Compile). A later
// issue adds declared record schemas, which will let Compile check names and types.
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
// Helpers: str(x), num(x), coalesce(a, b, ...), join(list, sep), digits(x).
var exprOptions = []expr.Option{
	expr.Env(map[string]any{}),
	expr.AllowUndefinedVariables(),
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
}

func compileExpr(src string, asBool bool) (*vm.Program, error) {
	opts := exprOptions
	if asBool {
		opts = append(slices.Clip(opts), expr.AsBool())
	}
	return expr.Compile(src, opts...)
}

// functionNames are the functions an expression can call: expr's builtins and our helpers.
var functionNames = func() map[string]bool {
	names := map[string]bool{"str": true, "num": true, "coalesce": true, "join": true, "digits": true}
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
			return fe.Message + " (line " + strconv.Itoa(fe.Line) + ", column " + strconv.Itoa(fe.Column+1) + ")"
		}
		return fe.Message
	}
	return err.Error()
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
