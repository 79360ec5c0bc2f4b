package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// The cad.rest keys for vendor APIs load from YAML (a rate as a decimal number, the OAuth2
// secret from client_secret_file), and a bad one is refused naming the key and its line.
func TestRESTVendorKeys(t *testing.T) {
	body := strings.Replace(minimal(t), `    poll: {path: "/incidents?since={{.Cursor}}"}`, `    rate_limit: {per_second: 2.5, max_concurrency: 3}
    auth:
      oauth2: {token_url: "https://idp.local/token", client_id: sidecar, client_secret_file: secret.txt, scopes: [a, b]}
    poll:
      path: "/incidents?since={{.Cursor}}"
      id_field: Id
      pagination: {offset_param: offset, size_param: limit, page_size: 50, max_pages: 7}
      detail: {path: "/incidents/{{.Id}}", concurrency: 2, into: detail}`, 1)
	file := writeConfig(t, body)
	if err := os.WriteFile(filepath.Join(filepath.Dir(file), "secret.txt"), []byte("the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.CAD.Settings.(*rest.Config)
	if c.RateLimit.PerSecond != 2.5 || c.RateLimit.MaxConcurrency != 3 || c.Auth.OAuth2.ClientSecret != "the-secret" ||
		c.Poll.Pagination.PageSize != 50 || c.Poll.Pagination.MaxPages != 7 || c.Poll.Detail.Into != "detail" || len(c.Auth.OAuth2.Scopes) != 2 {
		t.Fatalf("loaded %+v", c)
	}

	for _, tc := range []struct{ edit, want string }{
		{"per_second: 2.5", `cad.rest.rate_limit.per_second: expected a number, got "fast" (config.yaml:10)`},
		{"max_pages: 7", "cad.rest.poll.pagination.max_pages: must be ≥ 1, got 0 (config.yaml:16)"},
	} {
		bad := replaceIf(replaceIf(body, tc.edit == "per_second: 2.5", "per_second: 2.5", `per_second: "fast"`), tc.edit == "max_pages: 7", "max_pages: 7", "max_pages: 0")
		f := writeConfig(t, bad)
		_ = os.WriteFile(filepath.Join(filepath.Dir(f), "secret.txt"), []byte("s"), 0o600)
		_, err := config.Load(f, config.Options{Environ: []string{}})
		if err == nil {
			t.Fatalf("%s: loaded", tc.edit)
		}
		if ps := problems(t, err); len(ps) != 1 || ps[0] != tc.want {
			t.Errorf("problems %q, want %q", ps, tc.want)
		}
	}
}

func replaceIf(s string, on bool, old, new string) string {
	if !on {
		return s
	}
	return strings.Replace(s, old, new, 1)
}
