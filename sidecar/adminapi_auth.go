package sidecar

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// The admin token (admin.token). When it is set, every request on the admin listener but
// GET /healthz, GET /readyz, the dashboard's static files (GET /, /ui/...) and — with
// admin.metrics_public — GET /metrics must carry "Authorization: Bearer <token>"; others
// get 401 {"error": ...} with WWW-Authenticate: Bearer. The token is compared in constant
// time (crypto/subtle over SHA-256 digests, so the length does not leak either), and a
// request that carries it may do from any address what is otherwise served to loopback
// only (adminapi_local.go): the token replaces that rule. Without a token the listener
// is loopback-only (config.AdminTokenProblem: a sidecar refuses to start otherwise) and
// the loopback rule stays. The token is never logged.

// authedKey marks a request's context: it carried the admin token.
type authedKey struct{}

// tokenAuthed reports whether r carried the admin token (checked by requireToken).
func tokenAuthed(r *http.Request) bool {
	v, _ := r.Context().Value(authedKey{}).(bool)
	return v
}

// openPath reports whether r is served without the token.
func (s *Sidecar) openPath(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch p := r.URL.Path; {
	case p == "/healthz", p == "/readyz", p == "/":
		return true
	case p == "/metrics":
		return s.cfg.Admin.MetricsPublic
	default:
		return strings.HasPrefix(p, "/ui/")
	}
}

// requireToken wraps the admin handler with the token check (a no-op without a token).
func (s *Sidecar) requireToken(h http.Handler) http.Handler {
	token := s.cfg.Admin.Token
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		if ok {
			sum := sha256.Sum256([]byte(got))
			ok = subtle.ConstantTimeCompare(sum[:], want[:]) == 1
		}
		switch {
		case ok:
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authedKey{}, true)))
		case s.openPath(r):
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="cad-sidecar admin"`)
			msg := "this request needs the admin token: send Authorization: Bearer <admin.token>"
			if _, sent := bearer(r); sent {
				msg = "wrong admin token"
			}
			apiError(w, http.StatusUnauthorized, msg)
		}
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(a, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
