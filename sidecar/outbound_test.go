package sidecar_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/testproxy"
)

// With assist.proxy every call to Assist goes through the proxy: the links the simulated
// Assist received all came through it, and the proxy was asked for nothing else.
func TestAssistCallsGoThroughProxy(t *testing.T) {
	p := testproxy.Start(t)
	e := start(t, envOptions{edit: func(c *config.Config) { c.Assist.Proxy = p.URL }})
	e.cad.AddIncident()
	e.cad.AddIncident()
	waitFor(t, 20*time.Second, "two links through the proxy", func() bool { return e.as.LinkRequests() >= 2 })
	u, err := url.Parse(e.cfg.Assist.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	links := e.as.LinkRequests()
	if p.Forwards() < int64(links) {
		t.Fatalf("the proxy forwarded %d requests, but Assist got %d links", p.Forwards(), links)
	}
	for _, target := range p.Targets() {
		if target != u.Host {
			t.Fatalf("the proxy was asked for %q, want only Assist (%s)", target, u.Host)
		}
	}
}
