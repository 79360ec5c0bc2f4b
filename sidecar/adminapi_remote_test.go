package sidecar_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// adminRemoteCases are the admin API requests that change state or show note text: from
// anywhere but loopback they are refused (403) while admin.token is not set.
var adminRemoteCases = []struct {
	method, path, body string
	refused            bool
}{
	{"POST", "/api/v1/deadletters/note-1/replay", "", true},
	{"POST", "/api/v1/deadletters/replay", "", true},
	{"DELETE", "/api/v1/deadletters/note-1", "", true},
	{"PUT", "/api/v1/cursor", `{"cursor":"2026-01-01T00:00:00Z"}`, true},
	{"DELETE", "/api/v1/cursor", "", true},
	{"POST", "/api/v1/outbox/retry", "", true},
	{"POST", "/api/v1/reload", "", true},
	{"GET", "/api/v1/outbox?content=1", "", true},
	{"GET", "/api/v1/deadletters?content=1", "", true},
	{"GET", "/api/v1/deadletters/note-1?content=1", "", true},
	// Reading without content is fine from anywhere (like /metrics).
	{"GET", "/api/v1/deadletters", "", false},
	{"GET", "/api/v1/cursor", "", false},
}

// checkRemoteRefusal asserts one answer of adminRemoteCases.
func checkRemoteRefusal(t *testing.T, method, path string, refused bool, code int, body []byte) {
	t.Helper()
	if !refused {
		if code == http.StatusForbidden {
			t.Errorf("%s %s from a remote address: 403 for a read without content: %s", method, path, body)
		}
		return
	}
	var e struct{ Error string }
	if code != http.StatusForbidden || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "loopback") {
		t.Errorf("%s %s from a remote address: %d %s, want 403 with a JSON error naming loopback", method, path, code, body)
	}
}

// Through the admin handler, with the remote address of another host.
func TestAdminAPIRefusesRemoteMutations(t *testing.T) {
	e := start(t, envOptions{})
	h := e.s.AdminHandler()
	for _, c := range adminRemoteCases {
		for _, remote := range []string{"192.0.2.10:40000", "[2001:db8::1]:40000"} {
			var rd io.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			req := httptest.NewRequest(c.method, c.path, rd)
			req.RemoteAddr = remote
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkRemoteRefusal(t, c.method, c.path, c.refused, rec.Code, rec.Body.Bytes())
		}
	}
	// From loopback the same requests are served (404: no such dead letter, 200 otherwise).
	for _, c := range adminRemoteCases {
		if code, raw := e.api(t, c.method, c.path, c.body, nil); code == http.StatusForbidden {
			t.Errorf("%s %s from loopback: 403 %s", c.method, c.path, raw)
		}
	}
}

// Over the network: the admin listener on every address (which needs admin.token),
// reached through this host's non-loopback address (skipped on a host that has none):
// without the token every request is 401, with it none is refused.
func TestAdminAPIRemoteOverTheNetworkNeedsToken(t *testing.T) {
	ip := nonLoopbackIP(t)
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.Listen, c.Admin.Token = "0.0.0.0:0", adminToken }})
	_, port, err := net.SplitHostPort(e.s.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + net.JoinHostPort(ip, port)
	for _, c := range adminRemoteCases {
		for _, auth := range []string{"", "Bearer " + adminToken} {
			var rd io.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, base+c.path, rd)
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
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case auth == "" && resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("%s %s over the network without the token: %d %s, want 401", c.method, c.path, resp.StatusCode, b)
			case auth != "" && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized):
				t.Errorf("%s %s over the network with the token: %d %s", c.method, c.path, resp.StatusCode, b)
			}
		}
	}
}

// nonLoopbackIP is an IPv4 address of this host that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this host has no non-loopback IPv4 address")
	return ""
}
