package assist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

const testToken = "s3cret-token"

// recorded is what the fake Assist saw of one request.
type recorded struct {
	Method, Path, RawPath, RawQuery string
	Header                          http.Header
	Body                            []byte
}

// fakeAssist serves handler and records requests.
type fakeAssist struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFake(t *testing.T, handler http.HandlerFunc) *fakeAssist {
	t.Helper()
	f := &fakeAssist{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), b})
		f.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAssist) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeAssist) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func newTestClient(t *testing.T, baseURL string, mod ...func(*ClientOptions)) *Client {
	t.Helper()
	o := ClientOptions{BaseURL: baseURL + "/realtime/v1", Token: testToken}
	for _, m := range mod {
		m(&o)
	}
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestNewClientValidatesBaseURL(t *testing.T) {
	for _, u := range []string{"", "assist.example.com", "/realtime/v1", "ftp://x/y", "https://", "https://u:p@x/y", "https://x/y?a=b", "http://x/%zz"} {
		if _, err := NewClient(ClientOptions{BaseURL: u}); err == nil {
			t.Errorf("NewClient(%q): want error", u)
		}
	}
	for _, u := range []string{"https://assist.example.com/realtime/v1", "http://127.0.0.1:8080/", "https://x"} {
		if _, err := NewClient(ClientOptions{BaseURL: u}); err != nil {
			t.Errorf("NewClient(%q): %v", u, err)
		}
	}
}

func TestLinkIncident(t *testing.T) {
	f := newFake(t, jsonReply(200, `{"incidentId":"INC-1","callId":"c-42","extra":1}`))
	c := newTestClient(t, f.URL)
	req := LinkIncidentRequest{IncidentID: "INC-1", UserID: "u7", Fields: []IncidentField{{Name: "Nature", Description: "Nature", Value: "FIRE"}}}
	got, err := c.LinkIncident(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got != (LinkIncidentResponse{IncidentID: "INC-1", CallID: "c-42"}) {
		t.Fatalf("got %+v", got)
	}
	r := f.last(t)
	if r.Method != http.MethodPost || r.Path != "/realtime/v1/cad/incident" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if h := r.Header.Get("Authorization"); h != "Bearer "+testToken {
		t.Errorf("Authorization = %q", h)
	}
	if h := r.Header.Get("User-Agent"); h != DefaultUserAgent {
		t.Errorf("User-Agent = %q", h)
	}
	if h := r.Header.Get("Content-Type"); !strings.HasPrefix(h, "application/json") {
		t.Errorf("Content-Type = %q", h)
	}
	var sent LinkIncidentRequest
	if err := json.Unmarshal(r.Body, &sent); err != nil || sent.IncidentID != "INC-1" || len(sent.Fields) != 1 {
		t.Errorf("body %s (%v)", r.Body, err)
	}
}

func TestLinkIncidentBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"no callId":   `{"incidentId":"INC-1"}`,
		"not JSON":    `<html>oops</html>`,
		"empty":       ``,
		"wrong types": `{"callId": 5}`,
		"callId ..":   `{"callId": ".."}`,
		"callId huge": `{"callId": "` + strings.Repeat("c", 5000) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, jsonReply(200, body))
			_, err := newTestClient(t, f.URL).LinkIncident(context.Background(), LinkIncidentRequest{IncidentID: "INC-1"})
			if err == nil || delivery.IsPermanent(err) {
				t.Fatalf("want a transient error, got %v", err)
			}
			if !strings.Contains(err.Error(), "/cad/incident") || len(err.Error()) > 200 {
				t.Errorf("error does not name the endpoint, or is long: %.300v", err)
			}
		})
	}
}

func TestClientStatusClassification(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter string
		permanent  bool
		delay      time.Duration // 0: none requested
	}{
		{"400", 400, "", true, 0},
		{"401 is transient (operator fixes the token)", 401, "", false, 0},
		{"403 is transient (operator fixes the token)", 403, "", false, 0},
		{"404", 404, "", true, 0},
		{"422 ignores Retry-After", 422, "5", true, 0},
		{"302 redirect not followed", 302, "", true, 0},
		{"408", 408, "", false, 0},
		{"429 with seconds", 429, "3", false, 3 * time.Second},
		{"500", 500, "", false, 0},
		{"502", 502, "", false, 0},
		{"503 with Retry-After 7", 503, "7", false, 7 * time.Second},
		{"503 with bad Retry-After", 503, "soon", false, 0},
		{"503 with huge Retry-After", 503, "999999999", false, MaxRetryAfter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"message":"nope"}`)
			})
			_, err := newTestClient(t, f.URL).LinkIncident(context.Background(), LinkIncidentRequest{IncidentID: "SECRET-PII-INC"})
			if err == nil {
				t.Fatal("want error")
			}
			if got := delivery.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			d, ok := delivery.RetryDelay(err)
			if tc.delay == 0 && ok || tc.delay != 0 && (!ok || d != tc.delay) {
				t.Errorf("RetryDelay = %v, %v; want %v", d, ok, tc.delay)
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != tc.status {
				t.Fatalf("no HTTPError with status %d in %v", tc.status, err)
			}
			msg := err.Error()
			for _, want := range []string{"POST", "/cad/incident", http.StatusText(tc.status), "18-byte answer"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "nope") || he.Evidence() != "nope" {
				t.Errorf("the answer belongs in Evidence() (%q), not in Error() (%q)", he.Evidence(), msg)
			}
			if strings.Contains(msg, "SECRET-PII-INC") || strings.Contains(msg, testToken) {
				t.Errorf("error leaks the request: %q", msg)
			}
			if f.count() != 1 {
				t.Errorf("%d requests; the client must not retry", f.count())
			}
		})
	}
}

func TestErrorExcerptIsShort(t *testing.T) {
	long := strings.Repeat("é", 500) + "\n\x00tail"
	f := newFake(t, jsonReply(500, long))
	_, err := newTestClient(t, f.URL).LinkIncident(context.Background(), LinkIncidentRequest{})
	var he *HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("no HTTPError: %v", err)
	}
	if len(he.Body) > maxExcerpt || strings.ContainsAny(he.Body, "\n\x00") || strings.Contains(he.Body, "tail") {
		t.Errorf("excerpt %d bytes: %q", len(he.Body), he.Body)
	}
}

func TestClientNetworkErrorsAreTransient(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = newTestClient(t, "http://"+addr).LinkIncident(context.Background(), LinkIncidentRequest{})
		if err == nil || delivery.IsPermanent(err) {
			t.Fatalf("want transient, got %v", err)
		}
		if !strings.Contains(err.Error(), "POST /cad/incident") {
			t.Errorf("error does not name the call: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			jsonReply(200, `{"callId":"late"}`)(w, r)
		})
		defer close(release)
		c := newTestClient(t, f.URL, func(o *ClientOptions) { o.Timeout = 100 * time.Millisecond })
		start := time.Now()
		_, err := c.LinkIncident(context.Background(), LinkIncidentRequest{})
		if err == nil || delivery.IsPermanent(err) {
			t.Fatalf("want transient, got %v", err)
		}
		if !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error does not say it timed out: %v", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("took %v", el)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		f := newFake(t, jsonReply(200, `{"callId":"x"}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newTestClient(t, f.URL).LinkIncident(ctx, LinkIncidentRequest{})
		if err == nil || delivery.IsPermanent(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("want transient wrapping context.Canceled, got %v", err)
		}
	})
}

func TestResponseBodyLimit(t *testing.T) {
	big := `{"callId":"x","pad":"` + strings.Repeat("a", MaxResponseBody) + `"}`
	f := newFake(t, jsonReply(200, big))
	_, err := newTestClient(t, f.URL).LinkIncident(context.Background(), LinkIncidentRequest{})
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("want transient error, got %v", err)
	}
}

func TestRegisterWebhook(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		want    WebhookRegistrationResponse
		wantErr string // "", "transient" or "permanent"
		msg     string // text the error must contain
	}{
		{"camelCase", 200, `{"webhookId":"wh-1","error":false,"errorMessage":""}`, WebhookRegistrationResponse{WebhookID: "wh-1"}, "", ""},
		{"snake_case", 200, `{"webhook_id":"wh-2","error":false,"error_message":null}`, WebhookRegistrationResponse{WebhookID: "wh-2"}, "", ""},
		{"numeric id", 201, `{"webhook_id":17}`, WebhookRegistrationResponse{WebhookID: "17"}, "", ""},
		{"camelCase wins", 200, `{"webhookId":"a","webhook_id":"b"}`, WebhookRegistrationResponse{WebhookID: "a"}, "", ""},
		{"error true camel", 200, `{"error":true,"errorMessage":"target unreachable"}`, WebhookRegistrationResponse{Error: true, ErrorMessage: "target unreachable"}, "transient", "target unreachable"},
		{"error true snake", 200, `{"error":true,"error_message":"bad event type"}`, WebhookRegistrationResponse{Error: true, ErrorMessage: "bad event type"}, "transient", "bad event type"},
		{"error as string", 200, `{"error":"quota exceeded"}`, WebhookRegistrationResponse{Error: true, ErrorMessage: "quota exceeded"}, "transient", "quota exceeded"},
		{"error true 400", 400, `{"error":true,"error_message":"targetUrl must be https"}`, WebhookRegistrationResponse{}, "permanent", "targetUrl must be https"},
		{"undecodable", 200, `[1,2]`, WebhookRegistrationResponse{}, "transient", "/webhook/call"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, jsonReply(tc.status, tc.body))
			reg := WebhookRegistration{EventType: "*", AuthToken: "hook-secret", TargetURL: "https://sidecar.example.org/webhookhandler/cad"}
			got, err := newTestClient(t, f.URL).RegisterWebhook(context.Background(), reg)
			switch tc.wantErr {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case "transient":
				if err == nil || delivery.IsPermanent(err) {
					t.Fatalf("want transient error, got %v", err)
				}
			case "permanent":
				if !delivery.IsPermanent(err) {
					t.Fatalf("want permanent error, got %v", err)
				}
			}
			if err != nil {
				var ev interface{ Evidence() string }
				shown := err.Error()
				if errors.As(err, &ev) {
					shown = ev.Evidence()
					if tc.msg != "" && strings.Contains(err.Error(), tc.msg) {
						t.Errorf("Error() %q quotes the answer", err)
					}
				}
				if !strings.Contains(shown, tc.msg) {
					t.Errorf("error %q (evidence %q) lacks %q", err, shown, tc.msg)
				}
			}
			if err != nil && strings.Contains(err.Error(), "hook-secret") {
				t.Errorf("error leaks the auth token: %v", err)
			}
			if tc.wantErr != "permanent" && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			r := f.last(t)
			if r.Method != http.MethodPost || r.Path != "/realtime/v1/webhook/call" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
			var sent map[string]string
			_ = json.Unmarshal(r.Body, &sent)
			if sent["eventType"] != "*" || sent["authToken"] != "hook-secret" || sent["targetUrl"] == "" {
				t.Errorf("sent %s, want camelCase", r.Body)
			}
		})
	}
	t.Run("send snake_case", func(t *testing.T) {
		f := newFake(t, jsonReply(200, `{"webhook_id":"w"}`))
		c := newTestClient(t, f.URL, func(o *ClientOptions) { o.WebhookSnakeCase = true })
		if _, err := c.RegisterWebhook(context.Background(), WebhookRegistration{EventType: "*", AuthToken: "a", TargetURL: "https://t"}); err != nil {
			t.Fatal(err)
		}
		var sent map[string]string
		_ = json.Unmarshal(f.last(t).Body, &sent)
		if sent["event_type"] != "*" || sent["auth_token"] != "a" || sent["target_url"] != "https://t" {
			t.Errorf("sent %s, want snake_case", f.last(t).Body)
		}
	})
}

func TestNotes(t *testing.T) {
	f := newFake(t, jsonReply(200, `{"cursor":"c2","notes":[{"noteId":"n1","type":"INFO","note":"gas leak","critical":true,"createdAt":"2024-05-01T10:00:00Z"}]}`))
	c := newTestClient(t, f.URL)

	page, err := c.Notes(context.Background(), "call-1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := IncidentNote{NoteID: "n1", Type: NoteInfo, Note: "gas leak", Critical: true, CreatedAt: "2024-05-01T10:00:00Z"}
	if page.Cursor != "c2" || len(page.Notes) != 1 || page.Notes[0] != want {
		t.Fatalf("page %+v", page)
	}
	r := f.last(t)
	if r.Method != http.MethodGet || r.Path != "/realtime/v1/cad/incident/call-1/notes" || r.RawQuery != "" {
		t.Errorf("first call: %s %s ?%s", r.Method, r.Path, r.RawQuery)
	}
	if h := r.Header.Get("Authorization"); h != "Bearer "+testToken {
		t.Errorf("Authorization = %q", h)
	}

	if _, err := c.Notes(context.Background(), "call-1", "c2 &x=1"); err != nil {
		t.Fatal(err)
	}
	if q := f.last(t).RawQuery; q != "cursor=c2+%26x%3D1" {
		t.Errorf("query %q", q)
	}

	if _, err := c.Notes(context.Background(), "a/b?c#d", ""); err != nil {
		t.Fatal(err)
	}
	r = f.last(t)
	if r.Path != "/realtime/v1/cad/incident/a/b?c#d/notes" || r.RawPath != "/realtime/v1/cad/incident/a%2Fb%3Fc%23d/notes" || r.RawQuery != "" {
		t.Errorf("escaped call: path %q raw %q query %q", r.Path, r.RawPath, r.RawQuery)
	}

	for _, bad := range []string{"", ".", ".."} {
		if _, err := c.Notes(context.Background(), bad, ""); !delivery.IsPermanent(err) {
			t.Errorf("Notes(%q): want permanent error, got %v", bad, err)
		}
	}
}

func TestNotesKeepsCursorWhenNoneReturned(t *testing.T) {
	f := newFake(t, jsonReply(200, `{"notes":null}`))
	page, err := newTestClient(t, f.URL).Notes(context.Background(), "call-1", "old")
	if err != nil {
		t.Fatal(err)
	}
	if page.Cursor != "old" || page.Notes == nil || len(page.Notes) != 0 {
		t.Errorf("page %+v", page)
	}
}

func TestClientNeverLogsToken(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake(t, jsonReply(500, `{"error":"boom"}`))
	c := newTestClient(t, f.URL, func(o *ClientOptions) { o.Logger = log })
	_, _ = c.LinkIncident(context.Background(), LinkIncidentRequest{IncidentID: "PII-123"})
	_, _ = c.Notes(context.Background(), "call-1", "")
	if buf.Len() == 0 {
		t.Fatal("expected debug logs")
	}
	if s := buf.String(); strings.Contains(s, testToken) || strings.Contains(s, "PII-123") {
		t.Errorf("log leaks token or request body:\n%s", s)
	}
}
