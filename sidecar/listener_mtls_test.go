package sidecar_test

import (
	"crypto/tls"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
)

// tlsEnv is a sidecar whose public listener serves HTTPS with a certificate of serverCA,
// and, with clientCA, wants client certificates of that CA.
type tlsEnv struct {
	*env
	addr     string
	serverCA *testcert.CA
	server   *testcert.Pair
}

func startTLS(t *testing.T, clientCA *testcert.CA) *tlsEnv {
	t.Helper()
	dir := t.TempDir()
	serverCA := testcert.NewCA(t, dir, "server")
	server := serverCA.Issue(t, dir, "sidecar", testcert.Opts{})
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) {
		c.Server.TLSCert, c.Server.TLSKey = server.CertFile, server.KeyFile
		if clientCA != nil {
			c.Server.ClientCA = clientCA.File
		}
	}})
	addr := strings.TrimPrefix(strings.TrimSuffix(e.hookURL, e.cfg.Assist.Webhook.Path), "http://")
	return &tlsEnv{env: e, addr: addr, serverCA: serverCA, server: server}
}

// postHook sends one webhook over a new connection, presenting cert when it is not nil.
func (e *tlsEnv) postHook(t *testing.T, cert *tls.Certificate, text string) (*http.Response, error) {
	t.Helper()
	tc := &tls.Config{RootCAs: e.serverCA.Pool()}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, "https://"+e.addr+e.cfg.Assist.Webhook.Path, strings.NewReader(noteBody("INC-1", text)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hookToken)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// With server.client_ca the public listener wants a client certificate of that CA: a good
// one is served; one of another CA, an expired one of the right CA and none at all fail the
// handshake, and nothing of theirs reaches the webhook.
func TestPublicListenerMutualTLS(t *testing.T) {
	dir := t.TempDir()
	assistCA := testcert.NewCA(t, dir, "assist")
	otherCA := testcert.NewCA(t, dir, "other")
	good := assistCA.Issue(t, dir, "good", testcert.Opts{Client: true})
	unknown := otherCA.Issue(t, dir, "unknown", testcert.Opts{Client: true})
	expired := assistCA.Issue(t, dir, "expired", testcert.Opts{Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	e := startTLS(t, assistCA)

	resp, err := e.postHook(t, &good.TLS, "good client")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("good client certificate: %v %v, want 200", resp, err)
	}
	for name, cert := range map[string]*tls.Certificate{"unknown CA": &unknown.TLS, "expired": &expired.TLS, "none": nil} {
		resp, err := e.postHook(t, cert, "refused client "+name)
		if err == nil {
			t.Errorf("%s client certificate: answered %d, want the handshake refused", name, resp.StatusCode)
			continue
		}
		if !strings.Contains(err.Error(), "tls") && !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s client certificate: %v, want a TLS error", name, err)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "refused client") {
		t.Errorf("a refused client's note reached the sidecar:\n%s", logs)
	}
}

// A renewed server certificate written over server.tls_cert/tls_key is served to new
// connections without a restart; the sidecar logs the reload.
func TestPublicListenerServesRenewedCertificate(t *testing.T) {
	e := startTLS(t, nil)
	serial := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.serverCA.Pool(), ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != e.server.Cert.SerialNumber.String() {
		t.Fatalf("served %s, want the configured certificate %s", got, e.server.Cert.SerialNumber)
	}
	renewed := e.serverCA.Issue(t, t.TempDir(), "renewed", testcert.Opts{})
	for _, f := range []struct {
		path string
		b    []byte
	}{{e.server.CertFile, renewed.CertPEM}, {e.server.KeyFile, renewed.KeyPEM}} {
		if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Minute) // a change even where timestamps are coarse
		if err := os.Chtimes(f.path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	// The files are looked at every few seconds: new connections until one gets the
	// renewed certificate, bounded.
	want := renewed.Cert.SerialNumber.String()
	deadline := time.Now().Add(30 * time.Second)
	for serial() != want {
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate %s not served 30s after the files changed; logs:\n%s", want, e.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(e.logs.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged:\n%s", e.logs.String())
	}
}
