package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The demo's start, as a first-time user reads it: the first log line names the demo's
// folder; the new store in that fresh folder is INFO, not the WARN about an unmounted
// volume; no line repeats a key (component=… twice); the dashboard's address is logged,
// and with --admin-token the dashboard's API wants that token. The dashboard shows the
// version without a "v" in front of "dev".
func TestDemoStartLog(t *testing.T) {
	const token = "demo-admin-token-0123456789abcdef"
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- cmdDemo(ctx, []string{"--admin-token", token}, &stdout, &stderr) }()
	dashRe := regexp.MustCompile(`dashboard=(http://127\.0\.0\.1:[0-9]+/)( |\n)`)
	var dash string
	deadline := time.Now().Add(20 * time.Second)
	for dash == "" {
		if m := dashRe.FindStringSubmatch(stderr.String()); m != nil {
			dash = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no dashboard=http://127.0.0.1:PORT/ logged within 20s:\n%s", stderr.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	status := func(auth string) int {
		req, _ := http.NewRequest(http.MethodGet, dash+"api/v1/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", req.URL, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(""); got != http.StatusUnauthorized {
		t.Errorf("the dashboard's API without the token: %d, want 401", got)
	}
	if got := status(token); got != http.StatusOK {
		t.Errorf("the dashboard's API with --admin-token's token: %d, want 200", got)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("demo: exit %d\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not end within 30s of its cancellation")
	}
	logs := stderr.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if !regexp.MustCompile(`^time=\S+ level=INFO msg="demo folder[^"]*" dir=\S*cad-sidecar-demo-`).MatchString(lines[0]) {
		t.Errorf("the first log line does not name the demo's folder: %s", lines[0])
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("the demo's start logged a WARN:\n%s", logs)
	}
	if !strings.Contains(logs, `level=INFO msg="created a new, empty store at `) {
		t.Errorf("no INFO line about the new store:\n%s", logs)
	}
	keyRe := regexp.MustCompile(` ([a-z_]+)=`)
	for _, l := range lines {
		seen := map[string]bool{}
		for _, m := range keyRe.FindAllStringSubmatch(l, -1) {
			if seen[m[1]] {
				t.Errorf("key %s repeated: %s", m[1], l)
			}
			seen[m[1]] = true
		}
	}
}
