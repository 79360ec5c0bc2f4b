package push

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

const (
	testToken  = "token-0123456789abcdef"
	testSecret = "secret-0123456789abcdef"
)

// fakeHost records the batches a running Source emitted.
type fakeHost struct {
	mu      sync.Mutex
	batches []adapters.Batch
	err     error // returned by emit for batches with records
}

func (h *fakeHost) emit(_ context.Context, b adapters.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(b.Records) == 0 {
		return nil
	}
	if h.err != nil {
		return h.err
	}
	h.batches = append(h.batches, b)
	return nil
}

func (h *fakeHost) stored() []adapters.Batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]adapters.Batch(nil), h.batches...)
}

// running builds a Source over cfg (changed by edit) and runs it until the test ends.
func running(t *testing.T, edit func(*Config)) (*Source, *fakeHost, *prometheus.Registry) {
	t.Helper()
	c := NewConfig()
	edit(c)
	if ps := Validate(c); len(ps) > 0 {
		t.Fatalf("test config invalid: %v", ps)
	}
	reg := prometheus.NewRegistry()
	s, err := New(c, adapters.Deps{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context's cancellation")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		ok := s.emit != nil
		s.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source did not start running within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s, h, reg
}

func withToken(c *Config)  { c.Auth.Token = testToken }
func withSecret(c *Config) { c.Auth.HMAC.Secret = testSecret }

func post(t *testing.T, s *Source, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// signed are the HMAC headers for body at time at.
func signed(secret string, at time.Time, body string) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{
		DefaultTimestampHeader: ts,
		DefaultSignatureHeader: "sha256=" + hex.EncodeToString(Sign([]byte(secret), ts, []byte(body))),
	}
}

const oneRecord = `{"IncidentNumber": "26-1", "Nature": {"Code": "FIRE"}}`

func TestUnauthorizedStoresNothing(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		cfg  func(*Config)
		hdr  map[string]string
	}{
		{"no token", withToken, nil},
		{"wrong token", withToken, map[string]string{DefaultTokenHeader: testToken + "x"}},
		{"token of another length", withToken, map[string]string{DefaultTokenHeader: "short"}},
		{"no signature", withSecret, map[string]string{DefaultTimestampHeader: strconv.FormatInt(now.Unix(), 10)}},
		{"bad signature", withSecret, signed("another-secret-0123456789", now, oneRecord)},
		{"signature of another body", withSecret, signed(testSecret, now, oneRecord+" ")},
		{"signature not hex", withSecret, map[string]string{DefaultTimestampHeader: strconv.FormatInt(now.Unix(), 10), DefaultSignatureHeader: "sha256=zz"}},
		{"stale timestamp", withSecret, signed(testSecret, now.Add(-DefaultWindow-time.Minute), oneRecord)},
		{"timestamp in the future", withSecret, signed(testSecret, now.Add(DefaultWindow+time.Minute), oneRecord)},
		{"timestamp not a number", withSecret, map[string]string{DefaultTimestampHeader: "yesterday", DefaultSignatureHeader: signed(testSecret, now, oneRecord)[DefaultSignatureHeader]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h, reg := running(t, c.cfg)
			w := post(t, s, oneRecord, c.hdr)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401 (%s)", w.Code, w.Body)
			}
			if n := len(h.stored()); n != 0 {
				t.Fatalf("%d batches emitted, want none", n)
			}
			if got := gathered(t, reg, "cad_sidecar_push_requests_total", "unauthorized"); got != 1 {
				t.Fatalf("cad_sidecar_push_requests_total{result=unauthorized} = %v, want 1", got)
			}
		})
	}
}

func TestGoodPushEmitsOneAllOrNothingBatch(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(*Config)
		hdr  func(body string) map[string]string
	}{
		{"token", withToken, func(string) map[string]string { return map[string]string{DefaultTokenHeader: testToken} }},
		{"hmac", withSecret, func(b string) map[string]string { return signed(testSecret, time.Now(), b) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, h, reg := running(t, c.cfg)
			w := post(t, s, oneRecord, c.hdr(oneRecord))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200 (%s)", w.Code, w.Body)
			}
			b := h.stored()
			if len(b) != 1 || len(b[0].Records) != 1 || !b[0].AllOrNothing || b[0].Cursor != "" {
				t.Fatalf("emitted %+v, want one AllOrNothing batch of one record and no cursor", b)
			}
			if got := gathered(t, reg, "cad_sidecar_push_requests_total", "ok"); got != 1 {
				t.Fatalf("cad_sidecar_push_requests_total{result=ok} = %v, want 1", got)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	s, h, _ := running(t, func(c *Config) { withToken(c); c.MaxBody = 1024 })
	body := `{"IncidentNumber": "26-1", "Pad": "` + strings.Repeat("x", 2000) + `"}`
	w := post(t, s, body, map[string]string{DefaultTokenHeader: testToken})
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 (%s)", w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), "max_body") {
		t.Fatalf("answer %s does not name max_body", w.Body)
	}
	if len(h.stored()) != 0 {
		t.Fatal("a body over max_body was emitted")
	}
}

func TestBadBody(t *testing.T) {
	cases := []struct {
		name, format, items, body, want string
	}{
		{"not json", "json", "", `{"IncidentNumber": `, "not JSON"},
		{"not xml", "xml", "", `<Incident><Id>1</Incident>`, "not XML"},
		{"items missing", "json", "data", `{"other": []}`, "not found in the body"},
		{"item not an object", "json", "data", `{"data": [{"IncidentNumber": "1"}, 7]}`, "record 1 is not an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h, _ := running(t, func(cfg *Config) { withToken(cfg); cfg.Format, cfg.Items = c.format, c.items })
			w := post(t, s, c.body, map[string]string{DefaultTokenHeader: testToken})
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), c.want) {
				t.Fatalf("answer %d %s, want 400 saying %q", w.Code, w.Body, c.want)
			}
			if len(h.stored()) != 0 {
				t.Fatal("an undecodable body was emitted")
			}
		})
	}
}

func TestItemsAndXML(t *testing.T) {
	cases := []struct {
		name, format, items, body string
		want                      int
	}{
		{"json list", "json", "", `[{"IncidentNumber": "1"}, {"IncidentNumber": "2"}]`, 2},
		{"json items", "json", "data.incidents", `{"data": {"incidents": [{"IncidentNumber": "1"}, {"IncidentNumber": "2"}, {"IncidentNumber": "3"}]}}`, 3},
		{"xml one", "xml", "", `<Incident><IncidentNumber>1</IncidentNumber></Incident>`, 1},
		{"xml items", "xml", "Incident", `<Batch><Incident><IncidentNumber>1</IncidentNumber></Incident><Incident><IncidentNumber>2</IncidentNumber></Incident></Batch>`, 2},
		{"xml items once", "xml", "Incident", `<Batch><Incident><IncidentNumber>1</IncidentNumber></Incident></Batch>`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h, _ := running(t, func(cfg *Config) { withToken(cfg); cfg.Format, cfg.Items = c.format, c.items })
			w := post(t, s, c.body, map[string]string{DefaultTokenHeader: testToken})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200 (%s)", w.Code, w.Body)
			}
			b := h.stored()
			if len(b) != 1 || len(b[0].Records) != c.want {
				t.Fatalf("emitted %+v, want one batch of %d records", b, c.want)
			}
		})
	}
}

func TestRefusedBatchIs400NamingTheIncident(t *testing.T) {
	s, h, _ := running(t, withToken)
	h.err = &adapters.Refused{Records: []adapters.RefusedRecord{{Index: 1, IncidentID: "26-7", Reason: "field NatureCode: required"}}}
	w := post(t, s, `[{"IncidentNumber": "26-6"}, {"IncidentNumber": "26-7"}]`, map[string]string{DefaultTokenHeader: testToken})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "26-7") || !strings.Contains(w.Body.String(), "none stored") {
		t.Fatalf("answer %d %s, want 400 naming incident 26-7 and saying none was stored", w.Code, w.Body)
	}
}

func TestStoreFailureIs503(t *testing.T) {
	s, h, _ := running(t, withToken)
	h.err = context.DeadlineExceeded
	w := post(t, s, oneRecord, map[string]string{DefaultTokenHeader: testToken})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestReplayWithinWindowTakenOnce(t *testing.T) {
	s, h, reg := running(t, withSecret)
	hdr := signed(testSecret, time.Now(), oneRecord)
	for i := range 3 {
		w := post(t, s, oneRecord, hdr)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200 (%s)", i, w.Code, w.Body)
		}
		if i > 0 && !strings.Contains(w.Body.String(), "duplicate") {
			t.Fatalf("request %d: answer %s, want it marked duplicate", i, w.Body)
		}
	}
	if n := len(h.stored()); n != 1 {
		t.Fatalf("%d batches emitted for one request sent three times, want 1", n)
	}
	if got := gathered(t, reg, "cad_sidecar_push_requests_total", "duplicate"); got != 2 {
		t.Fatalf("cad_sidecar_push_requests_total{result=duplicate} = %v, want 2", got)
	}
}

func TestNotRunningIs503(t *testing.T) {
	c := NewConfig()
	withToken(c)
	s, err := New(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	w := post(t, s, oneRecord, map[string]string{DefaultTokenHeader: testToken})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d before Run, want 503", w.Code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s, _, _ := running(t, withToken)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, DefaultPath, nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d Allow=%q, want 405 Allow=POST", w.Code, w.Header().Get("Allow"))
	}
}

// gathered is the value of counter name with result=result in reg (0 if absent).
func gathered(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestSignMatchesOpenSSL: Sign is what the README's openssl command computes
// (printf '%s.%s' 1775900000 "$body" | openssl dgst -sha256 -hmac secret-0123456789abcdef -hex).
func TestSignMatchesOpenSSL(t *testing.T) {
	const want = "8ffc6731263aa0b09072e186d45f5a00dd69397104ab7be0fbae63d31958b865"
	got := hex.EncodeToString(Sign([]byte("secret-0123456789abcdef"), "1775900000", []byte(`{"IncidentNumber":"26-000123","Nature":{"Code":"FIRE"}}`)))
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}
