package config_test

import (
	"bufio"
	"encoding"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/eido"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/push" // the cad.push table
	_ "github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// defaultsNotValues lists the README config rows whose default cell is prose rather than
// a value this test can compare, each with the reason. A new such row fails the test
// until it is added here.
var defaultsNotValues = map[string]string{}

// readmeDefault is one `key | default` row of a README config table.
type readmeDefault struct {
	key, value string
	line       int
}

// readmeDefaults parses every table of README.md whose header starts `| key | default |`.
// Keys of a table that follows a bold "**`cad.rest`**" line are relative to that prefix
// (until the next heading). A row naming several keys ("`a`, `b`") gives one entry each.
func readmeDefaults(t *testing.T, path string) []readmeDefault {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the README is part of the contract this test checks: %v", err)
	}
	defer f.Close()
	var (
		out     []readmeDefault
		prefix  string
		inTable bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
			prefix, inTable = "", false
			continue
		case strings.HasPrefix(line, "**`"):
			if end := strings.Index(line[3:], "`**"); end > 0 {
				prefix = line[3:3+end] + "."
			}
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) >= 2 && cells[0] == "key" && cells[1] == "default" {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(cells[0], "---") || len(cells) < 2 {
			continue
		}
		for _, k := range strings.Split(cells[0], ",") {
			k = strings.Trim(strings.TrimSpace(k), "`")
			if prefix != "" && !strings.HasPrefix(k, prefix) {
				k = prefix + k
			}
			out = append(out, readmeDefault{key: k, value: cells[1], line: n})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every default in the README's config tables is the default config.Load applies to a
// minimal file: a default changed in the code or in the README fails here.
func TestReadmeDefaults(t *testing.T) {
	readme := filepath.Join("..", "README.md")
	rows := readmeDefaults(t, readme)
	if len(rows) < 30 {
		t.Fatalf("found %d rows in the README's `key | default` tables: the tables moved or changed form", len(rows))
	}
	file := writeConfig(t, minimal(t))
	cfg, err := config.Load(file, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, r := range rows {
		t.Run(r.key, func(t *testing.T) {
			v, ok := lookupKey(reflect.ValueOf(cfg), cfg, r.key)
			if !ok {
				t.Fatalf("README.md:%d documents %s, which the config does not have", r.line, r.key)
			}
			if strings.HasPrefix(r.value, "—") {
				return // no default (required, or empty): nothing to compare
			}
			if reason, skip := defaultsNotValues[r.key]; skip {
				t.Skipf("SKIP-OK: README default %q is descriptive: %s", r.value, reason)
			}
			want, isValue := strings.CutPrefix(r.value, "`")
			want, closed := strings.CutSuffix(want, "`")
			if !isValue || !closed || strings.Contains(want, "`") {
				t.Fatalf("README.md:%d: default %q of %s is not one `value`: add the key to defaultsNotValues with a reason", r.line, r.value, r.key)
			}
			if strings.HasPrefix(want, "./") { // relative paths are relative to the config file
				want = filepath.Join(filepath.Dir(file), want)
			}
			if err := sameValue(v, want); err != nil {
				t.Fatalf("README.md:%d says %s defaults to %s; config.Load gives %v", r.line, r.key, r.value, err)
			}
			compared++
		})
	}
	if compared < 20 {
		t.Fatalf("only %d defaults compared", compared)
	}
}

// lookupKey finds the field of a dotted key path by the koanf tags; cad.<adapter>.* is
// looked up in the adapter's decoded settings (the configured adapter), or in the fresh
// config of another registered adapter (its defaults).
func lookupKey(v reflect.Value, cfg *config.Config, key string) (reflect.Value, bool) {
	path := strings.Split(key, ".")
	if len(path) > 2 && path[0] == "cad" {
		if path[1] == cfg.CAD.Adapter {
			v, path = reflect.ValueOf(cfg.CAD.Settings), path[2:]
		} else if f, ok := adapters.Lookup(path[1]); ok {
			v, path = reflect.ValueOf(f.NewConfig()), path[2:]
		}
	}
	for _, p := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		f, ok := fieldByTag(v, p)
		if !ok {
			return reflect.Value{}, false
		}
		v = f
	}
	return v, true
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("koanf"), ",")
		if tag == name {
			return v.Field(i), true
		}
		if sf.Anonymous && tag == "" {
			if f, ok := fieldByTag(v.Field(i), name); ok {
				return f, true
			}
		}
	}
	return reflect.Value{}, false
}

// sameValue compares a loaded value with the README's text of it.
func sameValue(v reflect.Value, text string) error {
	got := v.Interface()
	switch x := got.(type) {
	case time.Duration:
		d, err := time.ParseDuration(text)
		if err != nil || d != x {
			return fmt.Errorf("%s", x)
		}
		return nil
	case config.ByteSize:
		b, err := config.ParseByteSize(text)
		if err != nil || b != x {
			return fmt.Errorf("%s", x)
		}
		return nil
	}
	if p := reflect.New(v.Type()); v.Kind() != reflect.String {
		if u, ok := p.Interface().(encoding.TextUnmarshaler); ok { // an adapter's own text type (cad.push.max_body)
			if err := u.UnmarshalText([]byte(text)); err != nil || p.Elem().Interface() != got {
				return fmt.Errorf("%v", got)
			}
			return nil
		}
	}
	switch v.Kind() {
	case reflect.String:
		if text == `""` {
			text = ""
		}
		if v.String() != text {
			return fmt.Errorf("%q", v.String())
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil || b != v.Bool() {
			return fmt.Errorf("%v", v.Bool())
		}
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || f != v.Float() {
			return fmt.Errorf("%v", v.Float())
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n != v.Int() {
			return fmt.Errorf("%d", v.Int())
		}
	case reflect.Map:
		if text != "{}" || v.Len() != 0 {
			return fmt.Errorf("%v", got)
		}
	default:
		return fmt.Errorf("%v (a %s: this test cannot compare it with %q)", got, v.Type(), text)
	}
	return nil
}
