package sidecar_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// More unauthenticated clients than server.max_conns, each keeping its connection open
// after its refusal, do not lock real webhooks out: every 4xx refusal of the public listener
// closes its connection (Connection: close), so the slots free as soon as they are
// answered, and a real webhook is answered 200. A few silent connections (nothing sent)
// hold their slots only until ReadHeaderTimeout. Every wait is bounded. (A client that
// declares a body and never sends it holds its slot until ReadTimeout: net/http reads what
// is left of a refused body, up to 256 KiB, before it closes.)
func TestPublicListenerRefusalsFreeConnections(t *testing.T) {
	const maxConns, clients, silent = 8, 20, 4
	e := start(t, envOptions{cadDown: true, edit: func(c *config.Config) { c.Server.MaxConns = maxConns }})
	addr := strings.TrimPrefix(strings.TrimSuffix(e.hookURL, e.cfg.Assist.Webhook.Path), "http://")
	path := e.cfg.Assist.Webhook.Path

	for range silent {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// Each client sends one refused request and then keeps its connection open, reading:
	// the answer, then (with the fix) the server's close.
	requests := []struct{ name, req string }{
		{"401", "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 2\r\n\r\n{}"},
		{"400", "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + hookToken + "\r\nContent-Length: 2\r\n\r\n{}"},
		{"413", "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + hookToken + "\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("b", 5000)},
		{"431", "POST " + path + " HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 64<<10) + "\r\n\r\n"},
		{"404", "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		r := requests[i%len(requests)]
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetDeadline(time.Now().Add(40 * time.Second))
			if _, err := io.WriteString(c, r.req); err != nil {
				errs <- fmt.Errorf("client %d (%s): write: %v", i, r.name, err)
				return
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- fmt.Errorf("client %d (%s): no answer: %v", i, r.name, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if fmt.Sprint(resp.StatusCode) != r.name || !resp.Close {
				errs <- fmt.Errorf("client %d (%s): %d, Connection: close %v", i, r.name, resp.StatusCode, resp.Close)
				return
			}
			if _, err := br.ReadByte(); err != io.EOF {
				errs <- fmt.Errorf("client %d (%s): the server did not close the connection after its refusal: %v", i, r.name, err)
			}
		}()
	}

	// A real webhook, on a connection of its own, while all that is going on.
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodPost, e.hookURL, strings.NewReader(noteBody("INC-1", "real note")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hookToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("real webhook with %d refused clients and %d silent ones (max_conns %d): %v", clients, silent, maxConns, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("real webhook: %d", resp.StatusCode)
	}
	wg.Wait() // each client is bounded by its 40s deadline
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
