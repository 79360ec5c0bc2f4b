package push_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/push"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest" // cad.push.sink: rest
	"github.com/cad-sidecar/cad-sidecar/config"
)

// loadPush loads a config whose cad section is cad (indented two spaces under cad:).
func loadPush(t *testing.T, cad string) (*config.Config, error) {
	t.Helper()
	yaml := fmt.Sprintf(`data_dir: ./data
assist:
  base_url: https://assist.example.com/realtime/v1
  token: assist-token
  notes: push
  webhook: {register: false, auth_token: hook-token-0123456789}
cad:
%s
mapping:
  incident_id: IncidentNumber
`, cad)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(path, config.Options{Environ: []string{}})
}

const restSink = `  rest: {base_url: "http://cad.local/api", write_note: {path: "/incidents/{{.IncidentID}}/notes"}}`

func TestConfigValid(t *testing.T) {
	cfg, err := loadPush(t, `  adapter: push
  push:
    auth: {hmac: {secret: s3cret-0123456789abcdef}}
    sink: rest
`+restSink)
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	c, ok := cfg.CAD.Settings.(*push.Config)
	if !ok {
		t.Fatalf("settings %T", cfg.CAD.Settings)
	}
	if c.Path != push.DefaultPath || c.MaxBody != push.DefaultMaxBody || c.Auth.HMAC.Window != push.DefaultWindow {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if cfg.CAD.SinkAdapter() != "rest" || !cfg.CAD.SeparateSink() || cfg.CAD.SinkSettings == nil {
		t.Fatalf("cad.push.sink: rest not taken as cad.sink (sink %q, settings %T)", cfg.CAD.SinkAdapter(), cfg.CAD.SinkSettings)
	}

	// cad.sink alone, or both agreeing, is the same; no sink at all is read-only.
	for _, cad := range []string{
		"  adapter: push\n  sink: rest\n  push: {auth: {token: tok-0123456789abcdef}}\n" + restSink,
		"  adapter: push\n  sink: rest\n  push: {auth: {token: tok-0123456789abcdef}, sink: rest}\n" + restSink,
		"  adapter: push\n  push: {auth: {token: tok-0123456789abcdef}, max_body: 64KiB, format: xml, items: Incident}\n",
	} {
		if _, err := loadPush(t, cad); err != nil {
			t.Errorf("valid config refused: %v\n%s", err, cad)
		}
	}
}

func TestConfigProblemsNameTheirKeys(t *testing.T) {
	cases := []struct {
		name, push, extra, key, want string
	}{
		{"no auth", `{}`, "", "cad.push.auth", "exactly one of auth.token"},
		{"both auths", `{auth: {token: tok-0123456789abcdef, hmac: {secret: s3cret-0123456789abcdef}}}`, "", "cad.push.auth", "only one"},
		{"short token", `{auth: {token: short}}`, "", "cad.push.auth.token", "at least 16"},
		{"zero window", `{auth: {hmac: {secret: s3cret-0123456789abcdef, window: 0s}}}`, "", "cad.push.auth.hmac.window", "must be positive"},
		{"negative window", `{auth: {hmac: {secret: s3cret-0123456789abcdef, window: -1m}}}`, "", "cad.push.auth.hmac.window", "must be positive"},
		{"same headers", `{auth: {hmac: {secret: s3cret-0123456789abcdef, header: X-Sig, timestamp_header: x-sig}}}`, "", "cad.push.auth.hmac.timestamp_header", "must differ"},
		{"relative path", `{path: cad/incidents, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.path", `must start with "/"`},
		{"webhook path", `{path: /webhookhandler/cad, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.path", "is assist.webhook.path"},
		{"pattern path", `{path: "/cad/{id}", auth: {token: tok-0123456789abcdef}}`, "", "cad.push.path", "plain path"},
		{"bad format", `{format: csv, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.format", "json or xml"},
		{"small max_body", `{max_body: 100, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.max_body", "at least 1KiB"},
		{"sink push", `{sink: push, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.sink", "push cannot write notes"},
		{"unknown sink", `{sink: carrier-pigeon, auth: {token: tok-0123456789abcdef}}`, "", "cad.push.sink", `unknown adapter "carrier-pigeon"`},
		{"sinks disagree", `{sink: rest, auth: {token: tok-0123456789abcdef}}`, "  sink: sql\n", "cad.push.sink", `disagrees with cad.sink "sql"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadPush(t, "  adapter: push\n"+c.extra+"  push: "+c.push+"\n"+restSink)
			if err == nil {
				t.Fatal("config accepted")
			}
			found := false
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.Contains(l, c.key+":") && strings.Contains(l, c.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem at %s saying %q in:\n%v", c.key, c.want, err)
			}
		})
	}
}
