// Package eido is the NENA EIDO conveyance source (NENA-STA-024, "EIDO conveyance"): a
// WebSocket subscriber (subprotocol emergency-ent1.0) that subscribes for EIDOs, turns
// every notified EIDO into a record and acknowledges the notification (eventResponse with
// its transactionId) only once emit returned, i.e. once the record is durable. It renews
// the subscription before it expires, answers terminate and resubscribes, unsubscribes on
// shutdown, and reconnects with capped backoff and jitter, always resubscribing. It is
// read-only: notes go through cad.sink when one is configured.
//
// Registered as "eido" (section cad.eido).
package eido

import (
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Subprotocol is the WebSocket subprotocol of EIDO conveyance.
const Subprotocol = "emergency-ent1.0"

// Config is the cad.eido section.
type Config struct {
	// URL is the conveyance server's WebSocket URL (wss:// or ws://).
	URL string `koanf:"url"`
	// RequestSubType is the subscribe's requestSubType (default "new").
	RequestSubType string `koanf:"request_sub_type"`
	// Filter is the subscribe's qualFilter ("" = left out).
	Filter string `koanf:"filter"`
	// MinRate is the subscribe's minRate in ms (0 = left out).
	MinRate int `koanf:"min_rate"`
	// Bearer (or the first line of BearerFile) is sent as Authorization: Bearer.
	Bearer     string `koanf:"bearer"`
	BearerFile string `koanf:"bearer_file"`
	// TLS is the CA bundle and the client certificate (mutual TLS).
	TLS TLSConfig `koanf:"tls"`
	// Reconnect is the capped backoff between connection attempts.
	Reconnect ReconnectConfig `koanf:"reconnect"`
}

// TLSConfig are PEM files; relative paths are relative to the config file's folder.
type TLSConfig struct {
	CAFile   string `koanf:"ca_file"`
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// ReconnectConfig is the backoff between connection attempts: initial, doubling up to max,
// with jitter.
type ReconnectConfig struct {
	Initial time.Duration `koanf:"initial"`
	Max     time.Duration `koanf:"max"`
}

// NewConfig is the section's defaults.
func NewConfig() *Config {
	return &Config{
		RequestSubType: "new",
		Reconnect:      ReconnectConfig{Initial: time.Second, Max: time.Minute},
	}
}

// Factory is the eido adapter.
var Factory = adapters.Define("eido", NewConfig, Validate, func(c *Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
	s, err := New(c, deps)
	if err != nil {
		return nil, nil, err
	}
	return s, nil, nil
})

func init() { adapters.Register(Factory) }
