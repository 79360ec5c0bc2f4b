package config

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"go.yaml.in/yaml/v3"
)

// The README promises that config.example.yaml "has every key with its default". These
// tests hold it to that: every key of the README's configuration tables is in the example
// (as a key, or as a commented-out `# key: value` line for keys that need another adapter
// or feature), and every key of the example (commented ones too) is in a README table.

const (
	readmePath  = "../README.md"
	examplePath = "../config.example.yaml"
)

// topLevel are the first segments a full config key can start with.
var topLevel = map[string]bool{
	"data_dir": true, "log": true, "server": true, "admin": true, "assist": true,
	"cad": true, "mapping": true, "outbox": true, "shadow": true,
}

// freeMaps are keys whose value is a map of the operator's own names (headers, lookup
// values, labels, token request parameters): their entries are not config keys.
var freeMaps = map[string]bool{
	"cad.rest.headers":            true,
	"cad.rest.auth.oauth2.params": true,
	"mapping.fields[].lookup":     true,
	"mapping.note.labels":         true,
}

// readmeKeys returns the keys of the tables under "## Configuration" (a table whose first
// header cell is "key"), made full: a table after a bold lead naming a section
// (**`cad.rest`** …, **Notes into the CAD** (`mapping.note`)) holds keys relative to it;
// the Sources and Transforms tables hold the keys of one mapping field.
func readmeKeys(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(readmePath)
	if err != nil {
		t.Fatalf("open README: %v", err)
	}
	defer f.Close()
	tick := regexp.MustCompile("`([^`]+)`")
	keys := map[string]bool{}
	var in, inTable bool
	prefix := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Configuration"
			prefix = ""
			continue
		case !in:
			continue
		case strings.HasPrefix(line, "#"):
			prefix, inTable = "", false
			continue
		case strings.HasPrefix(line, "**"):
			lead, _, _ := strings.Cut(line[2:], "**")
			switch {
			case strings.HasPrefix(lead, "Sources"), strings.HasPrefix(lead, "Transforms"):
				prefix = "mapping.fields[]"
			case strings.HasPrefix(lead, "`"): // **`cad.rest`** — …
				prefix = tick.FindStringSubmatch(lead)[1]
			default:
				if m := tick.FindStringSubmatch(line); m != nil && strings.Contains(m[1], ".") {
					prefix = m[1]
				}
			}
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		}
		cells := strings.Split(line, "|")
		first := strings.TrimSpace(cells[1])
		if !inTable {
			inTable = first == "key" // the header row; other tables (helpers) are not keys
			continue
		}
		if strings.HasPrefix(first, "---") {
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(first, -1) {
			k, _, _ := strings.Cut(m[1], ":") // `trim: true`, `max_length: N`
			k = strings.TrimSuffix(strings.TrimSpace(k), "[]")
			if strings.Contains(k, "*") {
				continue // `mapping.note.*`: the rows of its own table
			}
			full := k
			if seg, _, _ := strings.Cut(k, "."); !topLevel[seg] {
				switch last := prefix[strings.LastIndex(prefix, ".")+1:]; {
				case prefix == "":
					t.Errorf("README.md:%d: key %q is not a full key and no section names it", n, k)
					continue
				case strings.HasPrefix(k, last+"."): // `note.text` under (`mapping.note`)
					full = prefix[:len(prefix)-len(last)] + k
				default:
					full = prefix + "." + k
				}
			}
			keys[full] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read README: %v", err)
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d keys in the README's configuration tables: the parser no longer matches the README", len(keys))
	}
	return keys
}

// commentedKey matches a commented-out key (`  # tls_cert: /etc/…`, `#   driver: postgres`)
// or list item (`# - {name: …}`) of the example, not a prose comment.
var commentedKey = regexp.MustCompile(`^(\s*)# ( *(?:- )?(?:\{|[A-Za-z_][A-Za-z0-9_-]*:(?:\s|$)).*)$`)

// uncommentExample returns config.example.yaml with its commented-out keys made keys (the
// file's leading comment block, prose, is left alone).
func uncommentExample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	lines := strings.Split(string(b), "\n")
	header := true
	for i, l := range lines {
		if header && (strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "") {
			continue
		}
		header = false
		if m := commentedKey.FindStringSubmatch(l); m != nil {
			lines[i] = m[1] + m[2]
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// exampleKeys returns every key path of the uncommented example (list items as `[]`) and
// which of them are leaves (a value, a list of values, or a free map).
func exampleKeys(t *testing.T) (all, leaves map[string]bool) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(uncommentExample(t), &doc); err != nil {
		t.Fatalf("config.example.yaml with its commented keys uncommented is not YAML (a commented key must be `# key: value` at its key's indentation, and not repeat a key): %v", err)
	}
	all, leaves = map[string]bool{}, map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch {
		case n.Kind == yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case n.Kind == yaml.MappingNode && !freeMaps[path]:
			if len(n.Content) == 0 && path != "" {
				leaves[path] = true
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				all[p] = true
				walk(n.Content[i+1], p)
			}
		case n.Kind == yaml.SequenceNode && len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		default:
			leaves[path] = true
		}
	}
	walk(&doc, "")
	return all, leaves
}

// withoutFile maps a secret's `K_file` key to `K`.
func withoutFile(k string) string {
	if b, ok := strings.CutSuffix(k, "_file"); ok {
		return b
	}
	return k
}

func TestExampleHasEveryREADMEKey(t *testing.T) {
	readme := readmeKeys(t)
	all, _ := exampleKeys(t)
	have := map[string]bool{}
	for k := range all {
		have[k] = true
		have[withoutFile(k)] = true
		have[strings.ReplaceAll(k, "[]", "")] = true // `mapping.fields` is the list itself
	}
	var missing []string
	for k := range readme {
		if !have[k] && !have[k+"_file"] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("README key %s is not in config.example.yaml (add it with its default, or commented out: `# %s: …  # meaning`)", k, k[strings.LastIndex(k, ".")+1:])
	}
}

func TestExampleKeysAreInREADME(t *testing.T) {
	readme := readmeKeys(t)
	_, leaves := exampleKeys(t)
	var extra []string
	for k := range leaves {
		covered := false
		// A key is documented when it, or a section above it (`mapping.note.call_status`
		// for its `enabled`, `mapping.fields` for a field's name), is a README key.
		for p := k; p != ""; {
			if readme[p] || readme[withoutFile(p)] || readme[strings.ReplaceAll(p, "[]", "")] {
				covered = true
				break
			}
			i := strings.LastIndex(p, ".")
			if i < 0 {
				break
			}
			p = p[:i]
		}
		if !covered {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		t.Errorf("config.example.yaml key %s is in no README configuration table", k)
	}
}

// TestExampleCommentedKeysAreKnown loads the example with its commented-out keys
// uncommented through the checker `run` uses, so a commented key that the sidecar would
// refuse as unknown (a typo, a renamed key) fails here rather than at a PSAP.
func TestExampleCommentedKeysAreKnown(t *testing.T) {
	var raw map[string]any
	if err := yaml.Unmarshal(uncommentExample(t), &raw); err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	raw = normalize(raw).(map[string]any)
	dropFileSuffix(raw, "")
	c := &checker{}
	cad, _ := raw["cad"].(map[string]any)
	for name, v := range cad {
		if f, ok := adapters.Lookup(name); ok && name != "adapter" && name != "sink" {
			c.check(v, reflect.TypeOf(f.NewConfig()), "cad."+name)
			delete(cad, name)
		}
	}
	c.check(raw, reflect.TypeOf(Config{}), "")
	for _, p := range c.problems {
		t.Errorf("config.example.yaml (commented keys uncommented): %s: %s", p.Key, p.Msg)
	}
}

// normalize turns yaml's map[string]interface{} trees into what koanf hands the checker.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	default:
		return v
	}
}

// dropFileSuffix renames `K_file: path` to `K: path`, as resolving the secret would.
func dropFileSuffix(m map[string]any, path string) {
	for k, v := range m {
		p := joinKey(path, k)
		switch x := v.(type) {
		case map[string]any:
			dropFileSuffix(x, p)
		case []any:
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					dropFileSuffix(em, fmt.Sprintf("%s[%d]", p, i))
				}
			}
		case string:
			if b, ok := strings.CutSuffix(k, "_file"); ok && b != "" && !isPathKey(path, k) {
				if _, dup := m[b]; !dup {
					m[b] = x
				}
				delete(m, k)
			}
		}
	}
}
