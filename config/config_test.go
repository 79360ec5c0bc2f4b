package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func minimal(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want config.Problems, got %T: %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestExampleConfigValidates(t *testing.T) {
	cfg, err := config.Load("../config.example.yaml", config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("config.example.yaml does not validate:\n%v", err)
	}
	if cfg.CAD.Adapter != "rest" || cfg.CAD.Settings == nil || cfg.Mapper == nil {
		t.Fatalf("adapter settings or mapper missing: %+v", cfg.CAD)
	}
	if cfg.Outbox.MaxBytes != config.GiB || cfg.Outbox.Retry.Max != 5*time.Minute {
		t.Fatalf("outbox decoded wrong: %+v", cfg.Outbox)
	}
}

func TestDefaultsAndRelativePaths(t *testing.T) {
	p := writeConfig(t, minimal(t))
	cfg, err := config.Load(p, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "data"); cfg.DataDir != want {
		t.Errorf("data_dir = %q, want %q (relative to the config file)", cfg.DataDir, want)
	}
	if cfg.Assist.Webhook.Path != "/webhookhandler/cad" || cfg.Admin.Listen != "127.0.0.1:9090" || cfg.Assist.Notes != "push" {
		t.Errorf("defaults not applied: %+v %+v", cfg.Assist, cfg.Admin)
	}
	if cfg.CAD.CursorTolerance != 5*time.Minute {
		t.Errorf("cad.cursor_tolerance default = %s, want 5m", cfg.CAD.CursorTolerance)
	}
	if cfg.Assist.Webhook.MaxBody != config.MiB || cfg.Outbox.Concurrency != 8 || cfg.Outbox.MaxAttempts != 8 || cfg.Outbox.UrgentAttempts != 3 {
		t.Errorf("defaults not applied: %+v %+v", cfg.Assist.Webhook, cfg.Outbox)
	}
}

// Each bad file yields exactly the listed problem lines, in the contract's form
// `key.path: what is wrong (file:line)`.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{
			name: "unknown key with suggestion",
			edit: func(s string) string {
				return strings.Replace(s, "  token: test-token", "  token: test-token\n  tokn: x", 1)
			},
			want: []string{`assist.tokn: unknown key (did you mean "token"?) (config.yaml:5)`},
		},
		{
			name: "unknown top-level section",
			edit: func(s string) string { return s + "metrics: {port: 1}\n" },
			want: []string{`metrics: unknown key (config.yaml:15)`},
		},
		{
			name: "unknown key inside adapter section",
			edit: func(s string) string {
				return strings.Replace(s, "    base_url: http://cad.local/api", "    base_url: http://cad.local/api\n    bse_url: x", 1)
			},
			want: []string{`cad.rest.bse_url: unknown key (did you mean "base_url"?) (config.yaml:10)`},
		},
		{
			name: "wrong types",
			edit: func(s string) string {
				return s + "outbox: {max_age: soon, max_bytes: lots, concurrency: many, retry: {initial: [1]}}\n"
			},
			want: []string{
				`outbox.concurrency: expected a whole number, got "many" (config.yaml:15)`,
				`outbox.max_age: expected a duration such as 500ms, 30s, 5m or 72h, got "soon" (config.yaml:15)`,
				`outbox.max_bytes: expected a size such as 1048576, 512KiB or 1GiB, got "lots" (config.yaml:15)`,
				`outbox.retry.initial: expected a duration such as 500ms, 30s, 5m or 72h, got a list (config.yaml:15)`,
			},
		},
		{
			name: "bad values",
			edit: func(s string) string {
				s = strings.Replace(s, "https://assist.example.com/realtime/v1", "assist.example.com", 1)
				s = strings.Replace(s, `"0123456789abcdef0123"`, "short", 1)
				return s + "log: {level: loud}\noutbox: {retry: {initial: 10s, max: 1s}}\n"
			},
			want: []string{
				`assist.base_url: "assist.example.com" is not an absolute http(s) URL (config.yaml:3)`,
				`assist.webhook.auth_token: must be at least 16 characters when assist.notes is "push" (Assist sends it with every webhook) (config.yaml:5)`,
				`log.level: must be one of debug | info | warn | error, got "loud" (config.yaml:15)`,
				`outbox.retry.max: must be at least outbox.retry.initial (10s), got 1s (config.yaml:16)`,
			},
		},
		{
			name: "negative cursor tolerance",
			edit: func(s string) string {
				return strings.Replace(s, "adapter: rest", "adapter: rest\n  cursor_tolerance: -1m", 1)
			},
			want: []string{`cad.cursor_tolerance: must not be negative (0 turns the check off), got -1m0s (config.yaml:8)`},
		},
		{
			name: "negative poison attempts",
			edit: func(s string) string { return s + "outbox: {max_attempts: -1, urgent_attempts: 5000}\n" },
			want: []string{
				`outbox.max_attempts: must be between 0 and 1000 (0 = the default, 8), got -1 (config.yaml:15)`,
				`outbox.urgent_attempts: must be between 0 and 1000 (0 = the default, 3), got 5000 (config.yaml:15)`,
			},
		},
		{
			name: "history interval out of range",
			edit: func(s string) string { return s + "admin: {history_interval: 500ms}\n" },
			want: []string{`admin.history_interval: must be between 1s and 10m, got 500ms (config.yaml:15)`},
		},
		{
			name: "unknown adapter",
			edit: func(s string) string { return strings.Replace(s, "adapter: rest", "adapter: soap", 1) },
			want: []string{`cad.adapter: unknown adapter "soap" (available: eido, filedrop, push, rest, sql) (config.yaml:7)`},
		},
		{
			name: "adapter validation",
			edit: func(s string) string { return strings.Replace(s, "http://cad.local/api", "cad.local", 1) },
			want: []string{`cad.rest.base_url: `},
		},
		{
			name: "missing token points at the section",
			edit: func(s string) string { return strings.Replace(s, "  token: test-token\n", "", 1) },
			want: []string{`assist.token: is required (the Assist API token; or set assist.token_file or CAD_SIDECAR_ASSIST__TOKEN) (config.yaml:2)`},
		},
		{
			name: "mapping problem",
			edit: func(s string) string {
				return strings.Replace(s, "from: Nature.Code}", "from: Nature.Code, expr: 'x'}", 1)
			},
			want: []string{`mapping.fields[0]: `},
		},
		{
			name: "yaml syntax",
			edit: func(s string) string { return s + "log: [unclosed\n" },
			want: []string{`(yaml): not valid YAML: `},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.edit(minimal(t)))
			cfg, err := config.Load(p, config.Options{Environ: []string{}})
			if err == nil {
				t.Fatalf("Load accepted a bad config: %+v", cfg)
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d:\n got  %s\n want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	p := writeConfig(t, minimal(t))
	env := []string{
		"CAD_SIDECAR_ASSIST__TOKEN=from-env",
		"CAD_SIDECAR_OUTBOX__CONCURRENCY=3",
		"CAD_SIDECAR_CAD__REST__TIMEOUT=2s",
		"CAD_SIDECAR_CONFIG=/ignored.yaml",
		"OTHER_VAR=1",
	}
	cfg, err := config.Load(p, config.Options{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assist.Token != "from-env" || cfg.Outbox.Concurrency != 3 {
		t.Fatalf("env not applied: token=%q concurrency=%d", cfg.Assist.Token, cfg.Outbox.Concurrency)
	}

	_, err = config.Load(p, config.Options{Environ: []string{"CAD_SIDECAR_LOG__LEVEL=loud", "CAD_SIDECAR_ASSIST__TOKNE=x"}})
	got := problems(t, err)
	want := []string{
		`assist.tokne: unknown key (did you mean "token"?) (env CAD_SIDECAR_ASSIST__TOKNE)`,
		`log.level: must be one of debug | info | warn | error, got "loud" (env CAD_SIDECAR_LOG__LEVEL)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(minimal(t), "  token: test-token\n", "  token_file: token\n", 1)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assist.Token != "s3cret" {
		t.Fatalf("token = %q, want the file's contents without the newline", cfg.Assist.Token)
	}

	// From the environment too.
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("0123456789abcdefXYZ\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noHook := strings.Replace(base, `webhook: {auth_token: "0123456789abcdef0123"}`, "webhook: {}", 1)
	if err := os.WriteFile(p, []byte(noHook), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(p, config.Options{Environ: []string{"CAD_SIDECAR_ASSIST__WEBHOOK__AUTH_TOKEN_FILE=hook"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assist.Webhook.AuthToken != "0123456789abcdefXYZ" {
		t.Fatalf("auth_token = %q from CAD_SIDECAR_ASSIST__WEBHOOK__AUTH_TOKEN_FILE", cfg.Assist.Webhook.AuthToken)
	}

	// The environment overrides the file: CAD_SIDECAR_…_FILE (a container's or a unit's
	// secret) replaces the inline token of a config copied from config.example.yaml, and an
	// inline token from the environment the file's token_file.
	withInline := strings.Replace(base, "token_file: token", `token: "inline-from-the-file"`, 1)
	if err := os.WriteFile(p, []byte(withInline), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(p, config.Options{Environ: []string{"CAD_SIDECAR_ASSIST__TOKEN_FILE=token"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assist.Token != "s3cret" {
		t.Fatalf("token = %q, want the contents of CAD_SIDECAR_ASSIST__TOKEN_FILE over the file's inline token", cfg.Assist.Token)
	}
	if err := os.WriteFile(p, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(p, config.Options{Environ: []string{"CAD_SIDECAR_ASSIST__TOKEN=from-env"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assist.Token != "from-env" {
		t.Fatalf("token = %q, want CAD_SIDECAR_ASSIST__TOKEN over the file's token_file", cfg.Assist.Token)
	}

	bad := []struct{ name, body, want string }{
		{"missing file", strings.Replace(base, "token_file: token", "token_file: nope", 1),
			`assist.token_file: cannot read secret file "nope" (` + filepath.Join(dir, "nope") + `): no such file or directory (config.yaml:4)`},
		{"both set", strings.Replace(base, "token_file: token", "token_file: token\n  token: x", 1),
			`assist.token_file: set either token or token_file, not both (config.yaml:4)`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(p, config.Options{Environ: []string{}})
			got := problems(t, err)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want config.ByteSize
		ok   bool
	}{
		{"1048576", config.MiB, true}, {"1GiB", config.GiB, true}, {"512KiB", 512 * config.KiB, true},
		{"100MB", 100_000_000, true}, {"1 GiB", config.GiB, true}, {"-1", 0, false}, {"lots", 0, false}, {"1.5GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// mapping.sample is read relative to the config file, and a typo in an expression is then
// reported with its key and line.
func TestMappingSampleTypeChecks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sample.json"), []byte(`{"IncidentNumber": 1, "Address": "1 Main St"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(minimal(t), "    - {name: NatureCode, description: Nature, from: Nature.Code}",
		"    - {name: Where, expr: 'Adress + \"!\"'}", 1)
	body = strings.Replace(body, "mapping:\n", "mapping:\n  sample: sample.json\n", 1)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(p, config.Options{Environ: []string{}})
	got := problems(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], `mapping.fields[0].expr: `) || !strings.Contains(got[0], `"Adress"`) || !strings.HasSuffix(got[0], "(config.yaml:15)") {
		t.Fatalf("got %q", got)
	}
}
