package sidecar_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const adminToken = "test-admin-token-0123456789"

// do sends one request to the admin listener with the given Authorization header ("" =
// none) and returns the status, the WWW-Authenticate header and the body.
func (e *env) do(t *testing.T, method, path, auth string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.adminURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

func TestAdminTokenRequired(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.Token = adminToken }})
	for _, path := range []string{"/api/v1/status", "/api/v1/links", "/api/v1/deadletters", "/api/v1/cursor", "/metrics"} {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + adminToken + "x", "Basic " + adminToken, "Bearer"} {
			code, www, body := e.do(t, "GET", path, auth)
			if code != http.StatusUnauthorized || !strings.HasPrefix(www, "Bearer") || !strings.Contains(body, `"error"`) {
				t.Errorf("GET %s with Authorization %q: %d, WWW-Authenticate %q, %s; want 401, Bearer, a JSON error", path, auth, code, www, body)
			}
			if strings.Contains(body, adminToken) {
				t.Errorf("GET %s: the answer shows the token: %s", path, body)
			}
		}
		if code, _, body := e.do(t, "GET", path, "Bearer "+adminToken); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s", path, code, body)
		}
		if code, _, _ := e.do(t, "GET", path, "bearer  "+adminToken); code != http.StatusOK {
			t.Errorf("GET %s with the token (lower-case scheme): %d", path, code)
		}
	}
	// A mutation without the token is refused before it is looked at.
	if code, _, _ := e.do(t, "DELETE", "/api/v1/cursor", ""); code != http.StatusUnauthorized {
		t.Errorf("DELETE /api/v1/cursor without the token: %d, want 401", code)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		code, _, _ := e.do(t, "GET", path, "")
		if code == http.StatusUnauthorized {
			t.Errorf("GET %s without the token: 401; it must stay open", path)
		}
	}
	if strings.Contains(e.logs.String(), adminToken) {
		t.Errorf("the log shows the admin token")
	}
}

func TestAdminMetricsPublic(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.Token, c.Admin.MetricsPublic = adminToken, true }})
	if code, _, _ := e.do(t, "GET", "/metrics", ""); code != http.StatusOK {
		t.Errorf("GET /metrics with admin.metrics_public: %d, want 200", code)
	}
	if code, _, _ := e.do(t, "GET", "/api/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/status without the token: %d, want 401", code)
	}
}

// The token is compared with crypto/subtle, never with == or bytes.Equal.
func TestAdminTokenConstantTimeCompare(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "adminapi_auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	subtle := false
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && id.Name == "subtle" && x.Sel.Name == "ConstantTimeCompare" {
				subtle = true
			}
			if id, ok := x.X.(*ast.Ident); ok && (id.Name == "bytes" || id.Name == "strings") && (x.Sel.Name == "Equal" || x.Sel.Name == "Compare") {
				t.Errorf("adminapi_auth.go uses %s.%s: compare the token with crypto/subtle", id.Name, x.Sel.Name)
			}
		case *ast.BinaryExpr:
			for _, side := range []ast.Expr{x.X, x.Y} {
				if id, ok := side.(*ast.Ident); ok && (id.Name == "token" || id.Name == "got") && (x.Op == token.EQL || x.Op == token.NEQ) {
					if lit, ok := otherSide(x, side).(*ast.BasicLit); ok && lit.Value == `""` {
						continue // an emptiness check
					}
					t.Errorf("adminapi_auth.go compares %s with %s: use crypto/subtle", id.Name, x.Op)
				}
			}
		}
		return true
	})
	if !subtle {
		t.Error("adminapi_auth.go does not call subtle.ConstantTimeCompare")
	}
}

func otherSide(b *ast.BinaryExpr, side ast.Expr) ast.Expr {
	if b.X == side {
		return b.Y
	}
	return b.X
}

// With a token, the token replaces the loopback rule: mutations and content from another
// host are served to a request that carries it; without it they get 401.
func TestAdminTokenAllowsRemoteMutations(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.Token = adminToken }})
	h := e.s.AdminHandler()
	for _, c := range adminRemoteCases {
		for _, auth := range []string{"", "Bearer " + adminToken} {
			var rd io.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			req := httptest.NewRequest(c.method, c.path, rd)
			req.RemoteAddr = "192.0.2.10:40000"
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch {
			case auth == "" && rec.Code != http.StatusUnauthorized:
				t.Errorf("%s %s from another host without the token: %d %s, want 401", c.method, c.path, rec.Code, rec.Body)
			case auth != "" && (rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized):
				t.Errorf("%s %s from another host with the token: %d %s", c.method, c.path, rec.Code, rec.Body)
			}
		}
	}
}

// A non-loopback admin.listen without a token: New refuses, naming both keys.
func TestAdminNonLoopbackNeedsToken(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:9090", "admin.example.org:9090"} {
		cfg := config.Default()
		cfg.Admin.Listen = listen
		_, err := sidecar.New(&cfg, sidecar.Options{})
		if err == nil || !strings.Contains(err.Error(), "admin.listen") || !strings.Contains(err.Error(), "admin.token") {
			t.Errorf("admin.listen %s without a token: New = %v, want a refusal naming admin.listen and admin.token", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		cfg := config.Default()
		cfg.Admin.Listen = listen
		if p := cfg.AdminTokenProblem(); p != "" {
			t.Errorf("admin.listen %s: %s", listen, p)
		}
	}
}
