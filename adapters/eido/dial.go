package eido

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"

	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
)

// tlsConfig builds the client's TLS config from the PEM files (paths already resolved) with
// the shared outbound package: the CA bundle the server's certificate must chain to (it
// replaces the system roots; none: the system roots) and the client certificate presented
// for mutual TLS (a renewed pair is picked up at the next connection). The key names what
// failed.
func tlsConfig(c TLSConfig, log *slog.Logger) (*tls.Config, error) {
	return outbound.ClientTLS(outbound.Config{TLS: outbound.TLS{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}}, log)
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
