package sidecar

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/cad-sidecar/cad-sidecar/internal/tlsreload"
)

// publicTLS is the public listener's TLS config (nil without server.tls_cert): the
// certificate comes from a tlsreload.Reloader, so a renewed server.tls_cert/tls_key pair
// is served to new connections without a restart (checked every few seconds; a pair that
// does not load keeps the current one, logged at WARN). With server.client_ca every client
// must present a certificate that chains to that bundle and is valid now: an unknown or
// expired client certificate fails the handshake. The bundle is read at start.
func (s *Sidecar) publicTLS() (*tls.Config, error) {
	sc := s.cfg.Server
	if sc.TLSCert == "" {
		return nil, nil
	}
	r, err := tlsreload.New(sc.TLSCert, sc.TLSKey, tlsreload.Options{
		Logger: s.log.With("component", "public listener"), What: "server.tls_cert/server.tls_key",
	})
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	if sc.ClientCA != "" {
		pem, err := os.ReadFile(sc.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("server.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server.client_ca: %s holds no PEM certificate", sc.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
