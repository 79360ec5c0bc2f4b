package tlsreload

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveWith starts an HTTPS server over loopback whose certificate comes from r.
func serveWith(t *testing.T, r *Reloader) string {
	t.Helper()
	// Not httptest's StartTLS: it sets a certificate of its own, which a client that
	// sends no SNI (an IP address) would get instead of GetCertificate's.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// servedSerial makes a new connection to addr and returns the serial number of the
// certificate the server presented.
func servedSerial(t *testing.T, addr string, ca *testcert.CA) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// replace writes p's files over cert and key and moves their modification time forward,
// so that the change shows even on a file system with coarse timestamps.
func replace(t *testing.T, certFile, keyFile string, certPEM, keyPEM []byte, bump time.Duration) {
	t.Helper()
	for _, f := range []struct {
		path string
		b    []byte
	}{{certFile, certPEM}, {keyFile, keyPEM}} {
		if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(bump)
		if err := os.Chtimes(f.path, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// A renewed certificate written over the files is served to the next connection, without
// a restart.
func TestRenewedCertificateServed(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "t")
	old := ca.Issue(t, dir, "server", testcert.Opts{})
	r, err := New(old.CertFile, old.KeyFile, Options{Interval: -1, What: "server.tls_cert"})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveWith(t, r)
	if got := servedSerial(t, addr, ca); got != old.Cert.SerialNumber.String() {
		t.Fatalf("served serial %s, want the first certificate's %s", got, old.Cert.SerialNumber)
	}
	renewed := ca.Issue(t, t.TempDir(), "renewed", testcert.Opts{})
	replace(t, old.CertFile, old.KeyFile, renewed.CertPEM, renewed.KeyPEM, time.Minute)
	if got := servedSerial(t, addr, ca); got != renewed.Cert.SerialNumber.String() {
		t.Fatalf("after renewal served serial %s, want the renewed certificate's %s", got, renewed.Cert.SerialNumber)
	}
}

// A bad new pair (the renewed certificate with the old key: the key was not written yet,
// or the wrong one) is refused: the old certificate is still served, and the refusal is
// logged once at WARN with the reason. The good pair written next is served.
func TestBadRenewalKeepsCurrent(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "t")
	old := ca.Issue(t, dir, "server", testcert.Opts{})
	logs := &syncBuf{}
	r, err := New(old.CertFile, old.KeyFile, Options{Interval: -1, What: "server.tls_cert",
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveWith(t, r)
	renewed := ca.Issue(t, t.TempDir(), "renewed", testcert.Opts{})
	replace(t, old.CertFile, old.KeyFile, renewed.CertPEM, old.KeyPEM, time.Minute)
	for range 2 {
		if got := servedSerial(t, addr, ca); got != old.Cert.SerialNumber.String() {
			t.Fatalf("with a mismatched pair served serial %s, want the current %s", got, old.Cert.SerialNumber)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "renewed TLS certificate refused"); n != 1 {
		t.Fatalf("refusal logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "private key does not match public key") {
		t.Fatalf("refusal not at WARN with its reason:\n%s", out)
	}
	replace(t, old.CertFile, old.KeyFile, renewed.CertPEM, renewed.KeyPEM, 2*time.Minute)
	if got := servedSerial(t, addr, ca); got != renewed.Cert.SerialNumber.String() {
		t.Fatalf("after the good pair served serial %s, want %s", got, renewed.Cert.SerialNumber)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Fatalf("reload not logged:\n%s", logs.String())
	}
}

// The files are looked at no more often than the interval.
func TestCheckedAtMostEveryInterval(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "t")
	old := ca.Issue(t, dir, "server", testcert.Opts{})
	r, err := New(old.CertFile, old.KeyFile, Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	renewed := ca.Issue(t, t.TempDir(), "renewed", testcert.Opts{})
	replace(t, old.CertFile, old.KeyFile, renewed.CertPEM, renewed.KeyPEM, time.Minute)
	now = now.Add(30 * time.Minute)
	if got := r.Current().Leaf.SerialNumber; got.Cmp(old.Cert.SerialNumber) != 0 {
		t.Fatalf("within the interval: serial %s, want the current %s", got, old.Cert.SerialNumber)
	}
	now = now.Add(31 * time.Minute)
	if got := r.Current().Leaf.SerialNumber; got.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("after the interval: serial %s, want the renewed %s", got, renewed.Cert.SerialNumber)
	}
}

// A pair that does not load at start is an error naming the key; a missing file too.
func TestNewRefusesBadPair(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "t")
	a := ca.Issue(t, dir, "a", testcert.Opts{})
	b := ca.Issue(t, dir, "b", testcert.Opts{})
	for name, files := range map[string][2]string{
		"mismatched": {a.CertFile, b.KeyFile},
		"missing":    {a.CertFile, dir + "/nope.pem"},
	} {
		_, err := New(files[0], files[1], Options{What: "server.tls_cert"})
		if err == nil || !strings.Contains(err.Error(), "server.tls_cert") {
			t.Errorf("%s: err %v, want one naming server.tls_cert", name, err)
		}
	}
}
