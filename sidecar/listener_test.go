package sidecar_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// A request whose headers exceed server.max_header_bytes is answered 431 before it is
// authenticated or read further; a webhook with normal headers still goes through.
func TestPublicListenerHeaderLimit(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	req, err := http.NewRequest(http.MethodPost, e.hookURL, strings.NewReader(noteBody("INC-1", "x")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("p", 64<<10)) // the default limit is 32KiB
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64KiB of headers: %d, want 431", resp.StatusCode)
	}
	if resp, body := post(t, e.hookURL, hookToken, noteBody("INC-1", "x")); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook after the 431: %d %s", resp.StatusCode, body)
	}
}

// heldConn is a keep-alive connection that has been served once, a webhook accepted (a
// refusal would close it), and is kept open (so the listener counts it).
func heldConn(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	body := noteBody("INC-held", "held")
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", path, hookToken, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("held connection not served: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("held connection: %d, Connection: close %v; want 200 and keep-alive", resp.StatusCode, resp.Close)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c
}

// Past server.max_conns connections, a new one is not served until one of them ends —
// and the admin listener, capped on its own, keeps answering meanwhile.
func TestPublicListenerConnectionCap(t *testing.T) {
	const maxConns = 8
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Server.MaxConns = maxConns }})
	addr := strings.TrimPrefix(strings.TrimSuffix(e.hookURL, e.cfg.Assist.Webhook.Path), "http://")
	held := make([]net.Conn, maxConns)
	for i := range held {
		held[i] = heldConn(t, addr, e.cfg.Assist.Webhook.Path) // 200, then idle keep-alive
	}

	// One more connection: the kernel accepts it, the sidecar does not serve it yet.
	extra, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", e.cfg.Assist.Webhook.Path)
	answered := make(chan error, 1)
	go func() {
		_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("connection %d served while %d are open (err %v)", maxConns+1, maxConns, err)
	case <-time.After(time.Second):
	}
	if !httpOK(e.adminURL + "/healthz") {
		t.Fatal("/healthz does not answer while the public listener is saturated")
	}

	held[0].Close() // a slot frees: the waiting connection is served
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("waiting connection: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("waiting connection not served 20s after a slot freed")
	}
}

func httpOK(url string) bool {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}
