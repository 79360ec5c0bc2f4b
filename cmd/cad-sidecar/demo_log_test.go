package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
	"github.com/cad-sidecar/cad-sidecar/internal/testproxy"
)

// lockedBuffer is an io.Writer safe for the demo's concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A full demo run logs at info (its default) and none of the note texts that its
// simulated Assist produced, nor the caller data of the incidents (their address), appears
// in that log — not in the sidecar's lines, not in the adapters' or the outbox's. Nor does
// any secret: the Assist token, the webhook's auth token, the CAD's API key, the password
// of assist.proxy (the demo's Assist calls go through a proxy of the test's), nor the
// contents of the client key of assist.tls (its path may be logged).
func TestDemoLogHasNoNoteText(t *testing.T) {
	var (
		cad *sim.CAD
		as  *sim.Assist
	)
	onDemoSims = func(c *sim.CAD, a *sim.Assist) { cad, as = c, a }
	t.Cleanup(func() { onDemoSims = nil })
	const proxyPassword = "proxy-pass-s3cret"
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "assist")
	client := ca.Issue(t, dir, "sidecar", testcert.Opts{Client: true})
	proxy := testproxy.Start(t)
	proxyURL := strings.Replace(proxy.URL, "http://", "http://sidecar:"+proxyPassword+"@", 1)
	editDemoConfig = func(c string) string {
		return strings.Replace(c, "  token: demo-assist-token\n", fmt.Sprintf(
			"  token: demo-assist-token\n  proxy: %q\n  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n",
			proxyURL, ca.File, client.CertFile, client.KeyFile), 1)
	}
	t.Cleanup(func() { editDemoConfig = nil })
	var stdout, stderr lockedBuffer
	if code := cmdDemo(context.Background(), []string{"--duration", "6s"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("demo: exit %d\n%s", code, stderr.String())
	}
	var summary demoSummary
	if err := json.Unmarshal(bytes.TrimSpace([]byte(stdout.String())), &summary); err != nil {
		t.Fatalf("demo summary %q: %v", stdout.String(), err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "level=INFO") || strings.Contains(logs, "level=DEBUG") {
		t.Fatalf("the demo's log is not at info:\n%s", logs)
	}

	var texts, callerData []string
	for _, id := range cad.Incidents() {
		for _, n := range as.NotesFor(id) {
			texts = append(texts, n.Note)
		}
		if req, ok := as.LastLink(id); ok {
			for _, f := range req.Fields {
				if f.Name == "Address" && f.Value != "" {
					callerData = append(callerData, f.Value)
				}
			}
		}
	}
	if len(texts) == 0 || summary.NotesDelivered == 0 || len(callerData) == 0 {
		t.Fatalf("the demo produced %d note texts, delivered %d notes, linked %d addresses: nothing to look for",
			len(texts), summary.NotesDelivered, len(callerData))
	}
	for _, text := range texts {
		if strings.Contains(logs, text) {
			t.Errorf("note text %q is in the info log", text)
		}
	}
	for _, v := range callerData {
		if strings.Contains(logs, v) {
			t.Errorf("caller data %q is in the info log", v)
		}
	}
	if proxy.Forwards() == 0 {
		t.Errorf("no Assist call went through assist.proxy: the secrets part of the test saw nothing")
	}
	secrets := []string{"demo-assist-token", "demo-webhook-auth-token-0123456789", "demo-cad-key", proxyPassword}
	for _, line := range strings.Split(string(client.KeyPEM), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line) // the client key's base64 lines
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q is in the info log", s)
		}
	}
	if !strings.Contains(logs, client.CertFile) {
		t.Errorf("the assist transport (its cert_file) is not in the log")
	}
	if t.Failed() {
		t.Logf("demo log:\n%s", logs)
	}
}
