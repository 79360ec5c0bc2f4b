package eido_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf certificate (server: for 127.0.0.1) and returns its PEM and key PEM.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMutualTLS: against a server that requires a client certificate from its CA, the
// subscriber with such a certificate (and the CA bundle for the server's) subscribes and
// receives; one whose certificate another CA signed is refused in the handshake and
// reports it as Batch.Err.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "test ESInet CA")
	srvCert, srvKey := ca.issue(t, "eido.test", true)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	s := newServer(t, func(s *wsServer) {
		s.tlsServer = func(srv *httptest.Server) {
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
			srv.StartTLS()
		}
	})
	caFile := writeFile(t, dir, "ca.pem", ca.pem)

	t.Run("known client certificate", func(t *testing.T) {
		c, k := ca.issue(t, "psap-cad", false)
		cfg := config(s.url())
		cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile = caFile, writeFile(t, dir, "client.pem", c), writeFile(t, dir, "client.key", k)
		rec := newRecorder()
		stop := run(t, cfg, rec.emit)
		waitFor(t, "a subscription over mutual TLS", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
		tx := s.notify(t, testEIDO(t, "urn:mtls"))
		waitFor(t, "the notify acknowledged", func() bool { return s.acked(tx) == 1 })
		stop()
	})

	t.Run("unknown client certificate", func(t *testing.T) {
		other := newCA(t, "someone else's CA")
		c, k := other.issue(t, "intruder", false)
		cfg := config(s.url())
		cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile = caFile, writeFile(t, dir, "other.pem", c), writeFile(t, dir, "other.key", k)
		before := s.stat(func(s *wsServer) int { return s.subscribes })
		rec := newRecorder()
		stop := run(t, cfg, rec.emit)
		waitFor(t, "the refused handshake reported", func() bool { return rec.errCount() >= 2 })
		stop()
		if n := s.stat(func(s *wsServer) int { return s.subscribes }); n != before {
			t.Fatalf("the unknown certificate got a subscription (%d → %d)", before, n)
		}
		rec.mu.Lock()
		msg := rec.errs[0].Error()
		rec.mu.Unlock()
		if !strings.Contains(msg, "connect") {
			t.Fatalf("error %q does not say the connection failed", msg)
		}
	})

	t.Run("server certificate from an unknown CA", func(t *testing.T) {
		c, k := ca.issue(t, "psap-cad", false)
		cfg := config(s.url()) // no ca_file: the system roots do not know the test CA
		cfg.TLS.CertFile, cfg.TLS.KeyFile = writeFile(t, dir, "c2.pem", c), writeFile(t, dir, "c2.key", k)
		rec := newRecorder()
		stop := run(t, cfg, rec.emit)
		waitFor(t, "the untrusted server reported", func() bool { return rec.errCount() >= 1 })
		stop()
	})
}
