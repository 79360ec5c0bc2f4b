package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// healthyServer answers 200 on every path and counts the requests.
func healthyServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestHealthcheckConfigErrors: without --addr, a config that cannot be loaded fails the
// check (exit 1) naming the file and the error, and nothing is probed — not even a
// healthy program on the old fallback 127.0.0.1:9090.
func TestHealthcheckConfigErrors(t *testing.T) {
	// Something healthy on the old fallback address, when the port is free here: the
	// check must not report it.
	var fallbackHits atomic.Int32
	if ln, err := net.Listen("tcp", "127.0.0.1:9090"); err == nil {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fallbackHits.Add(1) })}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("cad: {adapter: nope}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notYAML := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(notYAML, []byte("server: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"missing file", filepath.Join(dir, "absent.yaml"), []string{"absent.yaml", "no such file"}},
		{"invalid keys", bad, []string{"bad.yaml", `cad.adapter: unknown adapter "nope"`}},
		{"not YAML", notYAML, []string{"broken.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cmdHealthcheck(context.Background(), []string{"--config", tt.path}, &stdout, &stderr)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, exitFailure, stdout.String(), stderr.String())
			}
			msg := stderr.String()
			for _, w := range append(tt.want, "cannot load the config", "--addr") {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q: nothing was probed, nothing should be reported", stdout.String())
			}
		})
	}
	if n := fallbackHits.Load(); n != 0 {
		t.Errorf("127.0.0.1:9090 was probed %d times with no usable config", n)
	}
}

// TestHealthcheckAddrWithoutConfig: --addr needs no config at all.
func TestHealthcheckAddrWithoutConfig(t *testing.T) {
	srv, hits := healthyServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	var stdout, stderr bytes.Buffer
	args := []string{"--config", filepath.Join(t.TempDir(), "absent.yaml"), "--addr", addr}
	if code := cmdHealthcheck(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q", code, stderr.String())
	}
	if hits.Load() != 1 {
		t.Fatalf("server hit %d times, want 1", hits.Load())
	}
}

// TestHealthcheckAddrFromConfig: a loadable config gives the address (admin.listen).
func TestHealthcheckAddrFromConfig(t *testing.T) {
	srv, hits := healthyServer(t)
	t.Setenv("CAD_SIDECAR_ADMIN__LISTEN", strings.TrimPrefix(srv.URL, "http://"))
	t.Setenv("CAD_SIDECAR_DATA_DIR", t.TempDir())
	var stdout, stderr bytes.Buffer
	args := []string{"--config", filepath.Join("..", "..", "config", "testdata", "minimal.yaml")}
	if code := cmdHealthcheck(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q", code, stderr.String())
	}
	if hits.Load() != 1 {
		t.Fatalf("server hit %d times, want 1", hits.Load())
	}
}
