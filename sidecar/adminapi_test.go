package sidecar_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// api calls the admin API and decodes its JSON answer into out (if not nil).
func (e *env) api(t *testing.T, method, path, body string, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.adminURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q (body %s)", method, path, ct, b)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Fatalf("%s %s: %d without a JSON error: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, string(b)
}

func TestAdminAPIUnknownEndpoint(t *testing.T) {
	e := start(t, envOptions{})
	if code, _ := e.api(t, "GET", "/api/v1/nothing-here", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown endpoint: %d", code)
	}
}
