package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/suggest"
)

var (
	durationType = reflect.TypeOf(time.Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))

	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// checker walks a raw decoded document against the Go type it will be decoded into and
// reports unknown keys and values of the wrong shape, each with its full key path, before
// the decoder (whose errors know no paths) sees them. It removes what it reports from the
// document, so that the rest can still be decoded and validated and the operator sees
// every problem in one run.
type checker struct {
	problems []Problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) check(v any, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // an empty key ("token:") keeps the default
	}
	switch {
	case t == durationType:
		c.checkDuration(v, path)
		return
	case t == byteSizeType:
		c.checkByteSize(v, path)
		return
	case t.Kind() != reflect.Struct && reflect.PointerTo(t).Implements(textUnmarshalerType):
		c.checkText(v, t, path) // an adapter's own text type (cad.push.max_body)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.add(path, "expected a section of keys, got %s", describe(v))
			return
		}
		c.checkStruct(m, t, path)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.add(path, "expected a map of names to values, got %s", describe(v))
			return
		}
		for _, k := range sortedKeys(m) {
			c.check(m[k], t.Elem(), joinKey(path, k))
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			c.add(path, "expected a list, got %s", describe(v))
			return
		}
		for i, e := range l {
			c.check(e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.String:
		if !isScalar(v) {
			c.add(path, "expected a single value, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); ok {
			return
		}
		if s, ok := v.(string); ok {
			if _, err := strconv.ParseBool(s); err == nil {
				return
			}
		}
		c.add(path, "expected true or false, got %s", describe(v))
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch x := v.(type) {
		case int, int64, uint64:
			return
		case string:
			if _, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
				return
			}
		}
		c.add(path, "expected a whole number, got %s", describe(v))
	case reflect.Float64, reflect.Float32:
		switch x := v.(type) {
		case int, int64, uint64, float64:
			return
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return
			}
		}
		c.add(path, "expected a number, got %s", describe(v))
	case reflect.Interface:
	default:
		c.add(path, "cannot be set from the config file")
	}
}

func (c *checker) checkStruct(m map[string]any, t reflect.Type, path string) {
	fields := structKeys(t)
	for _, k := range sortedKeys(m) {
		ft, ok := fields[k]
		if !ok {
			msg := "unknown key"
			if s := suggest.Closest(k, sortedKeys(fields)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.add(joinKey(path, k), "%s", msg)
			delete(m, k)
			continue
		}
		before := len(c.problems)
		p := joinKey(path, k)
		c.check(m[k], ft, p)
		for _, prob := range c.problems[before:] {
			if prob.Key == p {
				delete(m, k) // a bad value falls back to the default
				break
			}
		}
	}
}

func (c *checker) checkDuration(v any, path string) {
	switch x := v.(type) {
	case string:
		if _, err := time.ParseDuration(strings.TrimSpace(x)); err == nil {
			return
		}
	case int:
		if x == 0 {
			return
		}
	}
	c.add(path, "expected a duration such as 500ms, 30s, 5m or 72h, got %s", describe(v))
}

// checkText checks a value for a type that decodes itself from text: a string it takes, or
// a number when the type is a number.
func (c *checker) checkText(v any, t reflect.Type, path string) {
	switch x := v.(type) {
	case string:
		err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(x))
		if err == nil {
			return
		}
		c.add(path, "%v", err)
		return
	case int, int64, uint64, float64:
		if t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64 {
			return
		}
	}
	c.add(path, "expected text, got %s", describe(v))
}

func (c *checker) checkByteSize(v any, path string) {
	switch x := v.(type) {
	case string:
		if _, err := ParseByteSize(x); err == nil {
			return
		}
	case int:
		if x >= 0 {
			return
		}
	case uint64:
		return
	}
	c.add(path, "expected a size such as 1048576, 512KiB or 1GiB, got %s", describe(v))
}

// structKeys maps the koanf keys of t's fields to their types; fields tagged "-" are not
// settable from a file.
func structKeys(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("koanf")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		out[strings.Split(tag, ",")[0]] = f.Type
	}
	return out
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int, int64, uint64, float64:
		return true
	}
	return false
}

func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a section of keys"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(x)
	default:
		return fmt.Sprintf("%v", x)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
