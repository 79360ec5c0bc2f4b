package push_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters/push"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const (
	hostSecret = "host-secret-0123456789abcdef"
	hostToken  = "host-token-0123456789abcdef"
)

// host is a whole sidecar with cad.adapter: push, whose Assist answers every link 503 so
// that the links it queues stay in the outbox for the test to see.
type host struct {
	s   *sidecar.Sidecar
	url string // the push endpoint
}

func startHost(t *testing.T, auth string) *host {
	t.Helper()
	assist := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(assist.Close)
	dir := t.TempDir()
	yaml := fmt.Sprintf(`data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: assist-token
  notes: push
  webhook: {register: false, auth_token: hook-token-0123456789}
cad:
  adapter: push
  push:
    path: /cad/incidents
    auth: %s
outbox: {retry: {initial: 1h, max: 2h}}
mapping:
  incident_id: IncidentNumber
  fields:
    - {name: NatureCode, from: Nature.Code, required: true}
`, assist.URL, auth)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sidecar Run = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("sidecar Run did not return within 30s")
		}
	})
	h := &host{s: s, url: "http://" + s.PublicAddr() + "/cad/incidents"}
	h.awaitRunning(t)
	return h
}

// awaitRunning waits until the push source answers something else than 503 (Run started).
func (h *host) awaitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := h.post(t, "{}", nil)
		if code != http.StatusServiceUnavailable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the push endpoint still answers 503 after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *host) post(t *testing.T, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pending are the incident ids of the links in the outbox.
func (h *host) pending(t *testing.T) []string {
	t.Helper()
	ms, err := h.s.Store().Pending(outbox.TopicLink, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.Key)
	}
	return ids
}

func sign(at time.Time, body string) map[string]string { return signWith(hostSecret, at, body) }

// signWith is the HMAC headers, as a CAD sends them, of body at time at.
func signWith(secret string, at time.Time, body string) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{"X-Timestamp": ts, "X-Signature": "sha256=" + hex.EncodeToString(push.Sign([]byte(secret), ts, []byte(body)))}
}

const hmacAuth = `{hmac: {secret: ` + hostSecret + `}}`

func TestHostGoodPushIsInTheOutboxWhenAnswered(t *testing.T) {
	h := startHost(t, hmacAuth)
	body := `[{"IncidentNumber": "26-100", "Nature": {"Code": "FIRE"}}, {"IncidentNumber": "26-101", "Nature": {"Code": "EMS"}}]`
	code, ans := h.post(t, body, sign(time.Now(), body))
	if code != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", code, ans)
	}
	if got := strings.Join(h.pending(t), ","); got != "26-100,26-101" {
		t.Fatalf("links in the outbox right after the 200: %q, want 26-100,26-101", got)
	}
}

func TestHostRefusedStoresNothing(t *testing.T) {
	h := startHost(t, hmacAuth)
	good := `{"IncidentNumber": "26-200", "Nature": {"Code": "FIRE"}}`
	cases := []struct {
		name string
		body string
		hdr  map[string]string
		want int
		says string
	}{
		{"bad signature", good, sign(time.Now(), good+"x"), http.StatusUnauthorized, "unauthorized"},
		{"stale timestamp", good, sign(time.Now().Add(-time.Hour), good), http.StatusUnauthorized, "unauthorized"},
		{"no signature", good, nil, http.StatusUnauthorized, "unauthorized"},
		{"too large", `{"IncidentNumber": "26-201", "Pad": "` + strings.Repeat("x", 2<<20) + `"}`, nil, http.StatusRequestEntityTooLarge, "max_body"},
		{"not json", `{"IncidentNumber": `, sign(time.Now(), `{"IncidentNumber": `), http.StatusBadRequest, "not JSON"},
		// One record of two refused by the mapping (no nature code): neither is stored.
		{"one record refused", `[` + good + `, {"IncidentNumber": "26-202"}]`,
			sign(time.Now(), `[`+good+`, {"IncidentNumber": "26-202"}]`), http.StatusBadRequest, "incident 26-202"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ans := h.post(t, c.body, c.hdr)
			if code != c.want || !strings.Contains(ans, c.says) {
				t.Fatalf("answer %d %s, want %d saying %q", code, ans, c.want, c.says)
			}
			if p := h.pending(t); len(p) != 0 {
				t.Fatalf("the outbox holds links %v after a refused push", p)
			}
		})
	}
}

func TestHostReplayStoredOnce(t *testing.T) {
	h := startHost(t, hmacAuth)
	body := `{"IncidentNumber": "26-300", "Nature": {"Code": "FIRE"}}`
	hdr := sign(time.Now(), body)
	for i := range 2 {
		if code, ans := h.post(t, body, hdr); code != http.StatusOK {
			t.Fatalf("request %d: %d %s, want 200", i, code, ans)
		}
	}
	if got := h.pending(t); len(got) != 1 {
		t.Fatalf("links in the outbox after a replay: %v, want one", got)
	}
}

func TestHostToken(t *testing.T) {
	h := startHost(t, `{header: X-Cad-Token, token: `+hostToken+`}`)
	body := `{"IncidentNumber": "26-400", "Nature": {"Code": "FIRE"}}`
	if code, _ := h.post(t, body, map[string]string{"X-Cad-Token": "wrong-token-0123456789"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if p := h.pending(t); len(p) != 0 {
		t.Fatalf("the outbox holds %v after a wrong token", p)
	}
	if code, ans := h.post(t, body, map[string]string{"X-Cad-Token": hostToken}); code != http.StatusOK {
		t.Fatalf("right token: %d %s, want 200", code, ans)
	}
	if got := strings.Join(h.pending(t), ","); got != "26-400" {
		t.Fatalf("links in the outbox right after the 200: %q, want 26-400", got)
	}
}
