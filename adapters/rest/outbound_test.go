package rest_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
	"github.com/cad-sidecar/cad-sidecar/internal/testproxy"
)

// cadTLS is a CAD over HTTPS (a certificate of a private CA), wanting a client
// certificate of clients when it is not nil; it counts the notes written.
func cadTLS(t *testing.T, ca, clients *testcert.CA) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	pair := ca.Issue(t, t.TempDir(), "cad", testcert.Opts{})
	notes := new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		notes.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair.TLS}}
	if clients != nil {
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = clients.Pool(), tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, notes
}

// sinkFor builds the sink with the config file's folder dir (relative tls paths).
func sinkFor(t *testing.T, srv *httptest.Server, dir string, edit func(*rest.Config)) adapters.Sink {
	t.Helper()
	c := rest.NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Timeout = 10 * time.Second
	edit(c)
	sink, err := rest.NewSink(c, adapters.Deps{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

var tlsNote = adapters.Note{IncidentID: "INC-1", CallID: "c-1", Type: "INFO", Note: "n", Text: "n", Key: "k-1", CreatedAt: "2026-01-02T10:00:00Z"}

// A CAD whose certificate chains to a private CA takes notes with cad.rest.tls.ca_file (a
// path relative to the config file's folder), and is refused without it.
func TestRESTCustomCA(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "cad")
	srv, notes := cadTLS(t, ca, nil)
	ok := sinkFor(t, srv, dir, func(c *rest.Config) { c.TLS.CAFile = filepath.Base(ca.File) })
	if err := ok.WriteNote(context.Background(), tlsNote); err != nil || notes.Load() != 1 {
		t.Fatalf("with ca_file: %v (%d notes), want the note written", err, notes.Load())
	}
	plain := sinkFor(t, srv, dir, func(*rest.Config) {})
	if err := plain.WriteNote(context.Background(), tlsNote); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without ca_file: %v, want the certificate refused", err)
	}
}

// A CAD that wants a client certificate gets cad.rest.tls.cert_file/key_file.
func TestRESTClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "cad")
	clients := testcert.NewCA(t, dir, "clients")
	me := clients.Issue(t, dir, "sidecar", testcert.Opts{Client: true})
	srv, notes := cadTLS(t, ca, clients)
	s := sinkFor(t, srv, dir, func(c *rest.Config) {
		c.TLS.CAFile, c.TLS.CertFile, c.TLS.KeyFile = ca.File, me.CertFile, filepath.Base(me.KeyFile)
	})
	if err := s.WriteNote(context.Background(), tlsNote); err != nil || notes.Load() != 1 {
		t.Fatalf("with the client certificate: %v (%d notes)", err, notes.Load())
	}
	bare := sinkFor(t, srv, dir, func(c *rest.Config) { c.TLS.CAFile = ca.File })
	if err := bare.WriteNote(context.Background(), tlsNote); err == nil {
		t.Fatal("without a client certificate: written, want the handshake refused")
	}
}

// cad.rest.proxy carries the CAD calls (a CONNECT tunnel for HTTPS).
func TestRESTProxy(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "cad")
	srv, notes := cadTLS(t, ca, nil)
	p := testproxy.Start(t)
	s := sinkFor(t, srv, dir, func(c *rest.Config) { c.TLS.CAFile, c.Proxy = ca.File, p.URL })
	if err := s.WriteNote(context.Background(), tlsNote); err != nil || notes.Load() != 1 {
		t.Fatalf("through the proxy: %v (%d notes)", err, notes.Load())
	}
	if p.Connects() != 1 {
		t.Fatalf("%d CONNECTs through the proxy, want 1", p.Connects())
	}
}

// A ca_file that is not there stops the start, naming the key; a bad proxy and a lone
// cert_file are config problems.
func TestRESTOutboundProblems(t *testing.T) {
	dir := t.TempDir()
	c := rest.NewConfig()
	c.BaseURL = "https://cad.example/api"
	c.TLS.CAFile = "missing.pem"
	if _, err := rest.NewSink(c, adapters.Deps{Dir: dir}); err == nil || !strings.Contains(err.Error(), "cad.rest.tls.ca_file") {
		t.Fatalf("missing ca_file: %v, want an error naming cad.rest.tls.ca_file", err)
	}
	c = rest.NewConfig()
	c.BaseURL = "https://cad.example/api"
	c.TLS.CertFile, c.Proxy = "c.pem", "proxy.local:3128"
	keys := map[string]bool{}
	for _, p := range rest.Validate(c) {
		keys[p.Key] = true
	}
	if !keys["tls.cert_file"] || !keys["proxy"] {
		t.Fatalf("Validate: %v, want tls.cert_file and proxy", keys)
	}
}
