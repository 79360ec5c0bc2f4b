package outbound_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
	"github.com/cad-sidecar/cad-sidecar/internal/testproxy"
)

// httpsServer serves "ok" over loopback with a certificate of ca for 127.0.0.1 and
// the names in dns; with clientCA it wants a client certificate of that CA.
func httpsServer(t *testing.T, ca *testcert.CA, clientCA *testcert.CA, dns ...string) *httptest.Server {
	t.Helper()
	o := testcert.Opts{}
	if len(dns) > 0 {
		o.DNS, o.IPs = dns, []net.IP{net.ParseIP("127.0.0.1")}
	}
	pair := ca.Issue(t, t.TempDir(), "server", o)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair.TLS}}
	if clientCA != nil {
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = clientCA.Pool(), tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, tr *http.Transport, url string) error {
	t.Helper()
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, b)
	}
	return nil
}

func transport(t *testing.T, c outbound.Config) *http.Transport {
	t.Helper()
	tr, err := outbound.Transport(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A server whose certificate chains to a private CA is accepted with tls.ca_file (alone,
// or added to the system's roots) and refused without it.
func TestCustomCA(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "private")
	srv := httpsServer(t, ca, nil)
	for _, tc := range []struct {
		name string
		tls  outbound.TLS
		ok   bool
	}{
		{"ca_file", outbound.TLS{CAFile: ca.File}, true},
		{"ca_file added to system roots", outbound.TLS{CAFile: ca.File, SystemRoots: true}, true},
		{"system roots only", outbound.TLS{}, false},
		{"another CA", outbound.TLS{CAFile: testcert.NewCA(t, dir, "other").File}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := get(t, transport(t, outbound.Config{TLS: tc.tls}), srv.URL)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("err %v, want the certificate refused", err)
			}
		})
	}
}

// A server that wants a client certificate is answered with tls.cert_file/key_file, and
// refuses the handshake without them.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "server")
	clients := testcert.NewCA(t, dir, "clients")
	me := clients.Issue(t, dir, "sidecar", testcert.Opts{Client: true})
	srv := httpsServer(t, ca, clients)
	if err := get(t, transport(t, outbound.Config{TLS: outbound.TLS{CAFile: ca.File, CertFile: me.CertFile, KeyFile: me.KeyFile}}), srv.URL); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	if err := get(t, transport(t, outbound.Config{TLS: outbound.TLS{CAFile: ca.File}}), srv.URL); err == nil {
		t.Fatal("without a client certificate: accepted, want the handshake refused")
	}
}

// An explicit proxy carries every call, loopback ones too: HTTPS through a CONNECT tunnel.
func TestExplicitProxy(t *testing.T) {
	ca := testcert.NewCA(t, t.TempDir(), "private")
	srv := httpsServer(t, ca, nil)
	p := testproxy.Start(t)
	if err := get(t, transport(t, outbound.Config{TLS: outbound.TLS{CAFile: ca.File}, Proxy: p.URL}), srv.URL); err != nil {
		t.Fatal(err)
	}
	if p.Connects() != 1 {
		t.Fatalf("%d CONNECTs through the proxy, want 1 (targets %q)", p.Connects(), p.Targets())
	}
}

// Without proxy, HTTPS_PROXY is used, and NO_PROXY is honoured: a host it names is
// reached directly. The server's name does not resolve: the proxy maps it (through the
// proxy), the test's dialer maps it (directly).
func TestEnvironmentProxyAndNoProxy(t *testing.T) {
	const name = "assist.example.test"
	ca := testcert.NewCA(t, t.TempDir(), "private")
	srv := httpsServer(t, ca, nil, name)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := name + ":" + port
	p := testproxy.Start(t)
	p.Hosts[target] = srv.Listener.Addr().String()
	direct := func(tr *http.Transport) {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == target {
				addr = srv.Listener.Addr().String()
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	url := "https://" + target + "/"
	cfg := outbound.Config{TLS: outbound.TLS{CAFile: ca.File}}

	t.Setenv("HTTPS_PROXY", p.URL)
	t.Setenv("NO_PROXY", "")
	tr := transport(t, cfg)
	direct(tr)
	if err := get(t, tr, url); err != nil {
		t.Fatalf("through HTTPS_PROXY: %v", err)
	}
	if p.Connects() != 1 || p.Targets()[0] != target {
		t.Fatalf("proxy saw %d CONNECTs to %q, want 1 to %s", p.Connects(), p.Targets(), target)
	}

	t.Setenv("NO_PROXY", "localhost,"+name)
	tr = transport(t, cfg)
	direct(tr)
	if err := get(t, tr, url); err != nil {
		t.Fatalf("with NO_PROXY: %v", err)
	}
	if p.Connects() != 1 {
		t.Fatalf("with NO_PROXY naming %s the proxy saw %d CONNECTs, want still 1", name, p.Connects())
	}
}

// Bad settings are errors naming the key; a proxy's password is not in them.
func TestBadSettings(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "x")
	pair := ca.Issue(t, dir, "p", testcert.Opts{Client: true})
	for _, tc := range []struct {
		c    outbound.Config
		want string
	}{
		{outbound.Config{Key: "assist", TLS: outbound.TLS{CAFile: dir + "/missing.pem"}}, "assist.tls.ca_file"},
		{outbound.Config{Key: "assist", TLS: outbound.TLS{CAFile: pair.KeyFile}}, "assist.tls.ca_file: " + pair.KeyFile + " holds no PEM certificate"},
		{outbound.Config{Key: "cad.rest", TLS: outbound.TLS{CertFile: pair.CertFile, KeyFile: ca.File}}, "cad.rest.tls.cert_file"},
		{outbound.Config{Key: "assist", Proxy: "ftp://user:s3cret@proxy:21"}, "assist.proxy"},
	} {
		_, err := outbound.Transport(tc.c, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: err %v, want one containing %q and no password", tc.c, err, tc.want)
		}
	}
	ps := outbound.Validate(outbound.TLS{CertFile: "c.pem"}, "proxy.example:3128")
	if len(ps) != 2 || ps[0].Key != "tls.cert_file" || ps[1].Key != "proxy" {
		t.Errorf("Validate = %+v, want tls.cert_file and proxy", ps)
	}
}
