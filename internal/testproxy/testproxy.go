// Package testproxy is a small HTTP proxy for tests, over loopback: it tunnels CONNECT
// requests (HTTPS through a proxy) and forwards plain requests with an absolute URI, and
// counts both, so a test can tell that a client really went through it. Hosts can be
// mapped to other addresses (a test server for a name that does not resolve).
package testproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a running test proxy.
type Proxy struct {
	// URL is the proxy's http://127.0.0.1:port.
	URL string
	// Hosts maps a requested host:port to the address dialled instead.
	Hosts map[string]string

	connects, forwards atomic.Int64
	mu                 sync.Mutex
	targets            []string
	srv                *httptest.Server
	wg                 sync.WaitGroup
	conns              []net.Conn // of the tunnels, closed at the end
	fwd                *http.Transport
}

// Start starts a proxy, closed when the test ends.
func Start(t testing.TB) *Proxy {
	t.Helper()
	p := &Proxy{Hosts: map[string]string{}, fwd: &http.Transport{Proxy: nil, DialContext: nil}}
	p.fwd.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.mapped(addr))
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(func() {
		p.srv.Close()
		p.fwd.CloseIdleConnections()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close() // a client may keep its tunnel open: end it
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Connects is how many CONNECT tunnels were opened; Forwards how many plain requests
// were forwarded.
func (p *Proxy) Connects() int64 { return p.connects.Load() }

// Forwards is how many plain requests were forwarded.
func (p *Proxy) Forwards() int64 { return p.forwards.Load() }

// Requests is Connects plus Forwards.
func (p *Proxy) Requests() int64 { return p.Connects() + p.Forwards() }

// Targets are the host:port (CONNECT) or host (forward) asked for, in order.
func (p *Proxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *Proxy) mapped(addr string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.Hosts[addr]; ok {
		return a
	}
	return addr
}

func (p *Proxy) note(target string) {
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
}

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connects.Add(1)
		p.note(r.Host)
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "testproxy: not a proxy request", http.StatusBadRequest)
		return
	}
	p.forwards.Add(1)
	p.note(r.URL.Host)
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	resp, err := p.fwd.RoundTrip(out)
	if err != nil {
		http.Error(w, "testproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := net.DialTimeout("tcp", p.mapped(r.Host), 10*time.Second)
	if err != nil {
		http.Error(w, "testproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "testproxy: no hijack", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up, down)
	p.mu.Unlock()
	_, _ = down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(up, buf)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(down, up)
		_ = down.Close()
		_ = up.Close()
	}()
}
