package eido

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"
)

// tlsConfig builds the client's TLS config from the PEM files (paths already resolved):
// the CA bundle the server's certificate must chain to (none: the system roots) and the
// client certificate presented for mutual TLS. The key names what failed.
func tlsConfig(c TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/tls.key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// bearer is the token to send: bearer, or the first line of bearer_file (read at each
// dial, so a rotated token is picked up on the next connection).
func (s *Source) bearer() (string, error) {
	if s.cfg.BearerFile == "" {
		return s.cfg.Bearer, nil
	}
	b, err := os.ReadFile(s.bearerFile)
	if err != nil {
		return "", fmt.Errorf("bearer_file: %w", err)
	}
	tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", errors.New("bearer_file: empty")
	}
	return tok, nil
}

// dialOptions are the WebSocket handshake's options: the subprotocol, the TLS transport
// and the bearer header.
func (s *Source) dialOptions() (*websocket.DialOptions, error) {
	o := &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: s.tls.Clone(), Proxy: http.ProxyFromEnvironment}},
		HTTPHeader:   http.Header{},
	}
	tok, err := s.bearer()
	if err != nil {
		return nil, err
	}
	if tok != "" {
		o.HTTPHeader.Set("Authorization", "Bearer "+tok)
	}
	return o, nil
}
