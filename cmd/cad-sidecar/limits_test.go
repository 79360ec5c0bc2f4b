package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// rigHookToken is the webhook auth token of the rig's config.
const rigHookToken = "e2e-webhook-auth-token-0123456789"

// procKB reads a "VmRSS:"-style field (kB) of /proc/PID/status.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("SKIP-OK: no /proc (RSS is read from /proc/PID/status): %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// headerFlood opens a connection to addr and sends a request line and then about total
// bytes of header lines (pausing between chunks when slow), never ending the header block;
// it stops when the server answers or closes, then calls sent. It reports whether the
// server answered 431. The connection stays open until release is closed (floodHold at
// most: then an error).
func headerFlood(addr string, total int, slow bool, sent func(), release <-chan struct{}) (got431 bool, err error) {
	defer sent()
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(90 * time.Second))
	answered := make(chan bool, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		answered <- err == nil && resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge
	}()
	line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
	var chunk strings.Builder
	for chunk.Len() < 16<<10 {
		chunk.WriteString(line)
	}
	if _, err := io.WriteString(c, "POST /webhookhandler/cad HTTP/1.1\r\nHost: sidecar\r\n"); err != nil {
		return false, nil
	}
	for n := 0; n+chunk.Len() <= total; n += chunk.Len() {
		if _, err := io.WriteString(c, chunk.String()); err != nil {
			break // the server gave up on us: the point of the limit
		}
		if slow {
			time.Sleep(2 * time.Millisecond)
		}
	}
	sent()
	select {
	case got431 = <-answered:
	case <-release:
	case <-time.After(floodHold):
		return got431, fmt.Errorf("not released within %s", floodHold)
	}
	select {
	case <-release:
	case <-time.After(floodHold):
		return got431, fmt.Errorf("not released within %s", floodHold)
	}
	return got431, nil
}

// floodHold bounds how long headerFlood keeps its connection open waiting for release.
const floodHold = 3 * time.Minute

// TestHeaderFloodBoundedMemory runs the real binary and opens 200 connections that each
// send 1 MB of headers (never finishing them) while it measures the sidecar's resident
// memory from /proc. The header limit (431) and the connection cap keep the growth to a
// few MB (Go's defaults let it grow by about 1 MB per connection), and meanwhile real
// webhooks are answered 200 and /healthz answers. Half the connections send fast, half
// with pauses. No timing is asserted: every wait is bounded, and memory is what counts.
func TestHeaderFloodBoundedMemory(t *testing.T) {
	cad := sim.NewCAD(sim.CADOptions{Seed: 11})
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 11})
	r := newRig(t, cad, as)
	p := r.start(t)
	pid := p.cmd.Process.Pid
	waitFor(t, 30*time.Second, "admin listener", func() bool { return httpOK("http://" + r.admin + "/healthz") })

	client := &http.Client{Timeout: 30 * time.Second}
	var hooks atomic.Int64
	webhook := func(i int) error {
		body := fmt.Sprintf(`{"callId":"call-rss","incidentId":"INC-RSS","note":{"type":"INFO","note":"note %d","createdAt":"2026-11-25T10:00:00Z"}}`, i)
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.public+"/webhookhandler/cad", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+rigHookToken)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook %d: status %d", i, resp.StatusCode)
		}
		hooks.Add(1)
		return nil
	}
	for i := range 20 { // warm up: the steady state the growth is measured from
		if err := webhook(i); err != nil {
			t.Fatal(err)
		}
	}
	// Reset the peak (VmHWM) to the current RSS where the kernel lets us; else the peak so
	// far is the baseline, which can only make the growth look smaller than it is… by the
	// warm-up's own peak, a few MB.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	base := max(procKB(t, pid, "VmRSS"), procKB(t, pid, "VmHWM"))

	// 1 MB of headers, just under Go's default limit (1 MiB + 4 KiB) so that without a
	// limit of our own the server keeps every byte until ReadHeaderTimeout.
	const conns, perConn = 200, 1<<20 - 8<<10
	release := make(chan struct{})
	var wg, sending sync.WaitGroup
	var refused431, dialErrs atomic.Int64
	sending.Add(conns)
	for i := range conns {
		wg.Go(func() {
			var once sync.Once
			ok, err := headerFlood(r.public, perConn, i%2 == 1, func() { once.Do(sending.Done) }, release)
			if err != nil {
				dialErrs.Add(1)
			}
			if ok {
				refused431.Add(1)
			}
		})
	}
	allSent := make(chan struct{})
	go func() { sending.Wait(); close(allSent) }()
	// While the flood runs: real webhooks and /healthz keep being answered.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	i := 20
	for flooding := true; flooding || i < 40; i++ {
		if err := webhook(i); err != nil {
			t.Errorf("during the flood: %v", err)
		}
		if !httpOK("http://" + r.admin + "/healthz") {
			t.Error("/healthz did not answer during the flood")
		}
		select {
		case <-allSent:
			flooding = false
		case <-ctx.Done():
			t.Fatalf("the %d flooding connections did not finish sending in 90s", conns)
		default:
		}
	}
	peak := procKB(t, pid, "VmHWM")
	close(release)
	flooded := make(chan struct{})
	go func() { wg.Wait(); close(flooded) }()
	select {
	case <-flooded:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the %d flooding connections did not end within 2m of their release", conns)
	}
	peak = max(peak, procKB(t, pid, "VmHWM"))

	growthMB := float64(peak-base) / 1024
	t.Logf("RSS baseline %d kB, peak %d kB (+%.1f MB); 431 answers %d/%d; dial errors %d; webhooks answered %d",
		base, peak, growthMB, refused431.Load(), conns, dialErrs.Load(), hooks.Load())
	if growthMB > 64 {
		t.Fatalf("resident memory grew by %.1f MB under %d connections with 1 MB of headers (limit 64 MB)", growthMB, conns)
	}
	if refused431.Load() == 0 {
		t.Fatal("no flooding connection was answered 431")
	}
	if err := webhook(99); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
}
