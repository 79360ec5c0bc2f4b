package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	kyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// EnvPrefix starts every environment override: CAD_SIDECAR_ASSIST__TOKEN sets assist.token
// (upper case, `__` between levels).
const EnvPrefix = "CAD_SIDECAR_"

// EnvConfigFile names the config file when --config is not given.
const EnvConfigFile = "CAD_SIDECAR_CONFIG"

// EnvTestPrefix starts the variables of the project's test suite
// (CAD_SIDECAR_TEST_REQUIRE_DB, CAD_SIDECAR_TEST_MSSQL_DSN): they are not config overrides,
// so CI can export them while the real binary runs.
const EnvTestPrefix = "CAD_SIDECAR_TEST_"

// koanf's key delimiter. Not "." because keys of user maps (lookup tables, headers) may
// contain dots ("1.5", "X.Api.Key") and must stay whole.
const delim = "\x1f"

// Options tune Load.
type Options struct {
	// Environ replaces os.Environ (tests).
	Environ []string
}

// ResolvePath picks the config file: the flag, else $CAD_SIDECAR_CONFIG, else ./config.yaml.
func ResolvePath(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv(EnvConfigFile); p != "" {
		return p
	}
	return "config.yaml"
}

// source tells where each key path came from, for problem messages.
type source struct {
	file  string
	lines map[string]int
	env   map[string]string // key path -> environment variable
	// unreadable holds the keys whose *_file could not be read: their "is required"
	// would only repeat that problem.
	unreadable map[string]bool
}

func (s *source) of(path string) string {
	for p := path; ; {
		if e, ok := s.env[p]; ok {
			return "env " + e
		}
		if l, ok := s.lines[p]; ok {
			return fmt.Sprintf("%s:%d", s.file, l)
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return s.file
		}
		p = p[:i]
	}
}

func (s *source) attach(in []Problem) Problems {
	ps := in[:0]
	for _, p := range in {
		if s.unreadable[p.Key] {
			continue
		}
		if p.Source == "" {
			p.Source = s.of(p.Key)
		}
		ps = append(ps, p)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}

// readLayers reads the YAML file and the environment into one koanf instance.
func readLayers(path string, o Options, withEnv bool) (*koanf.Koanf, *source, error) {
	src, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			if id := processIdentity(); id != "" {
				return nil, nil, fmt.Errorf("read config: %w (the sidecar runs as %s: make the file readable by it, e.g. mode 0644)", err, id)
			}
		}
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	s := &source{file: filepath.Base(path), env: map[string]string{}, unreadable: map[string]bool{}}
	if s.lines, err = keyLines(src); err != nil {
		return nil, s, Problems{yamlProblem(s.file, err)}
	}
	k := koanf.New(delim)
	if err := k.Load(rawbytes.Provider(src), kyaml.Parser()); err != nil {
		return nil, s, Problems{yamlProblem(s.file, err)}
	}
	if withEnv {
		environ := o.Environ
		if environ == nil {
			environ = os.Environ()
		}
		err := k.Load(env.Provider(delim, env.Opt{
			Prefix:      EnvPrefix,
			EnvironFunc: func() []string { return environ },
			TransformFunc: func(name, value string) (string, any) {
				if name == EnvConfigFile || strings.HasPrefix(name, EnvTestPrefix) {
					return "", nil
				}
				parts := strings.Split(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__")
				s.env[strings.Join(parts, ".")] = name
				return strings.Join(parts, delim), value
			},
		}), nil)
		if err != nil {
			return nil, s, fmt.Errorf("read environment: %w", err)
		}
	}
	return k, s, nil
}

// Load reads, checks and validates the config file at path. On any problem it returns a
// Problems error listing all of them.
func Load(path string, o Options) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path %q: %w", path, err)
	}
	k, s, err := readLayers(abs, o, true)
	if err != nil {
		return nil, err
	}
	raw := k.Raw()
	var ps []Problem
	ps = append(ps, resolveSecrets(raw, "", filepath.Dir(abs), s)...)

	cadRaw, _ := raw["cad"].(map[string]any)
	adapterSections := map[string]any{}
	for name, v := range cadRaw {
		if name == "adapter" || name == "sink" {
			continue
		}
		if _, ok := adapters.Lookup(name); ok {
			adapterSections[name] = v
			delete(cadRaw, name)
		}
	}
	c := &checker{}
	c.check(raw, reflect.TypeOf(Config{}), "")
	for _, name := range sortedKeys(adapterSections) {
		f, _ := adapters.Lookup(name)
		c.check(adapterSections[name], reflect.TypeOf(f.NewConfig()), "cad."+name)
	}
	ps = append(ps, c.problems...)

	// Rebuild the koanf tree from the checked map (secrets resolved) and decode it over
	// the defaults.
	kk := koanf.New(delim)
	if err := kk.Load(confmap.Provider(raw, ""), nil); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg := Default()
	if err := decode(kk, "", &cfg); err != nil {
		return nil, s.attach([]Problem{{Msg: err.Error()}})
	}
	cfg.File = abs
	ps = append(ps, cfg.validate()...)

	if f, ok := adapters.Lookup(cfg.CAD.Adapter); ok {
		settings := f.NewConfig()
		if sec, ok := adapterSections[cfg.CAD.Adapter]; ok {
			kc := koanf.New(delim)
			if err := kc.Load(confmap.Provider(map[string]any{"s": sec}, ""), nil); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
			if err := decode(kc, "s", settings); err != nil {
				ps = append(ps, Problem{Key: "cad." + cfg.CAD.Adapter, Msg: err.Error()})
			}
		}
		if f.Validate != nil {
			for _, p := range f.Validate(settings) {
				ps = append(ps, Problem{Key: joinKey("cad."+cfg.CAD.Adapter, p.Key), Msg: p.Msg})
			}
		}
		cfg.CAD.Settings = settings
		ps = append(ps, cfg.sinkAlias(settings)...)
		ps = append(ps, cfg.mountedPaths(settings)...)
	}
	if f, ok := adapters.Lookup(cfg.CAD.Sink); ok && cfg.CAD.SeparateSink() && f.NewSink != nil {
		settings := f.NewConfig()
		if sec, ok := adapterSections[cfg.CAD.Sink]; ok {
			kc := koanf.New(delim)
			if err := kc.Load(confmap.Provider(map[string]any{"s": sec}, ""), nil); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
			if err := decode(kc, "s", settings); err != nil {
				ps = append(ps, Problem{Key: "cad." + cfg.CAD.Sink, Msg: err.Error()})
			}
		}
		for _, p := range f.ValidateSink(settings) {
			ps = append(ps, Problem{Key: joinKey("cad."+cfg.CAD.Sink, p.Key), Msg: p.Msg})
		}
		cfg.CAD.SinkSettings = settings
	}
	m, mps := mapping.CompileWith(cfg.Mapping, mapping.Options{Dir: filepath.Dir(abs)})
	for _, p := range mps {
		ps = append(ps, Problem{Key: joinKey("mapping", p.Key), Msg: p.Msg})
	}
	cfg.Mapper = m
	if m != nil {
		var ws []Problem
		for _, w := range m.Warnings() {
			ws = append(ws, Problem{Key: joinKey("mapping", w.Key), Msg: w.Msg})
		}
		if len(ws) > 0 {
			cfg.Warnings = s.attach(ws)
		}
	}
	cfg.resolvePaths()
	if len(ps) > 0 {
		return nil, s.attach(ps)
	}
	return &cfg, nil
}

// LoadMapping reads only the `mapping:` section of a config file (what `cad-sidecar map`
// needs), checks and compiles it.
func LoadMapping(path string) (*mapping.Mapper, error) {
	k, s, err := readLayers(path, Options{}, false)
	if err != nil {
		return nil, err
	}
	raw := k.Raw()
	sec, ok := raw["mapping"]
	if !ok {
		return nil, s.attach([]Problem{{Key: "mapping", Msg: "section missing"}})
	}
	c := &checker{}
	c.check(sec, reflect.TypeOf(mapping.Config{}), "mapping")
	if len(c.problems) > 0 {
		return nil, s.attach(c.problems)
	}
	var mc mapping.Config
	mc.SetDefaults()
	if err := decode(k, "mapping", &mc); err != nil {
		return nil, s.attach([]Problem{{Key: "mapping", Msg: err.Error()}})
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config path %q: %w", path, err)
	}
	m, mps := mapping.CompileWith(mc, mapping.Options{Dir: dir})
	if len(mps) > 0 {
		ps := make([]Problem, len(mps))
		for i, p := range mps {
			ps[i] = Problem{Key: joinKey("mapping", p.Key), Msg: p.Msg}
		}
		return nil, s.attach(ps)
	}
	return m, nil
}

func decode(k *koanf.Koanf, path string, out any) error {
	return k.UnmarshalWithConf(path, out, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.TextUnmarshallerHookFunc(),
			),
			WeaklyTypedInput: true,
			TagName:          "koanf",
		},
	})
}

// isPathKey reports whether key k of the section at path names a file the sidecar reads
// itself rather than a secret to inline: the PEM files of a `tls:` section (ca_file,
// cert_file, key_file), which are passed on as paths (and re-read on renewal).
func isPathKey(path, k string) bool {
	if path != "tls" && !strings.HasSuffix(path, ".tls") {
		return false
	}
	return k == "ca_file" || k == "cert_file" || k == "key_file"
}

// resolveSecrets replaces every `key_file: path` by `key: <file contents>` (trailing
// newlines trimmed), reading paths relative to the config file's folder.
func resolveSecrets(m map[string]any, path, dir string, s *source) []Problem {
	var ps []Problem
	for _, k := range sortedKeys(m) {
		v := m[k]
		p := joinKey(path, k)
		switch x := v.(type) {
		case map[string]any:
			ps = append(ps, resolveSecrets(x, p, dir, s)...)
		case []any:
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					ps = append(ps, resolveSecrets(em, fmt.Sprintf("%s[%d]", p, i), dir, s)...)
				}
			}
		case string:
			base, ok := strings.CutSuffix(k, "_file")
			if !ok || base == "" || isPathKey(path, k) {
				continue
			}
			if cur, _ := m[base].(string); cur != "" {
				// The environment overrides the file, as for every key: a key_file from the
				// environment (the container's or the unit's secret) replaces the file's
				// inline key, an inline key from the environment the file's key_file. Both
				// in the same place is a mistake.
				_, fileFromEnv := s.env[p]
				_, baseFromEnv := s.env[joinKey(path, base)]
				switch {
				case baseFromEnv && !fileFromEnv:
					delete(m, k)
					continue
				case fileFromEnv && !baseFromEnv:
					delete(s.lines, joinKey(path, base)) // the file's line no longer holds it
				default:
					ps = append(ps, Problem{Key: p, Msg: fmt.Sprintf("set either %s or %s, not both", base, k)})
					delete(m, k)
					continue
				}
			}
			file := x
			if !filepath.IsAbs(file) {
				file = filepath.Join(dir, file)
			}
			b, err := readFile(file)
			if err != nil {
				ps = append(ps, Problem{Key: p, Msg: secretReadMsg(x, file, err)})
				s.unreadable[joinKey(path, base)] = true
				delete(m, k)
				continue
			}
			m[base] = strings.TrimRight(string(b), "\r\n")
			delete(m, k)
			bp := joinKey(path, base)
			if l, ok := s.lines[p]; ok {
				s.lines[bp] = l
			}
			if e, ok := s.env[p]; ok {
				s.env[bp] = e
			}
		}
	}
	return ps
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.File)
	for _, p := range []*string{&c.DataDir, &c.Server.TLSCert, &c.Server.TLSKey, &c.Server.ClientCA, &c.Log.File,
		&c.Assist.TLS.CAFile, &c.Assist.TLS.CertFile, &c.Assist.TLS.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
