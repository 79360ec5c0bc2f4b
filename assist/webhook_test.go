package assist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

const hookToken = "hook-tok"

const (
	noteBody       = `{"callId":"c1","incidentId":"INC-1","note":{"type":"INFO","note":"hazard: downed power line","critical":true,"createdAt":"2024-05-01T10:00:00Z"}}`
	statusBody     = `{"callId":"c1","status":"ENDED"}`
	activationBody = `{"callId":"c1","assistantId":3,"assistantName":"Fire"}`
)

// handleRecorder is a Handle that records events and returns err.
type handleRecorder struct {
	mu     sync.Mutex
	events []Event
	err    error
}

func (h *handleRecorder) handle(ctx context.Context, ev Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	return h.err
}

func (h *handleRecorder) got() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}

func TestNewReceiverValidates(t *testing.T) {
	h := func(context.Context, Event) error { return nil }
	if _, err := NewReceiver(ReceiverOptions{Handle: h}); err == nil {
		t.Error("no auth token: want error")
	}
	if _, err := NewReceiver(ReceiverOptions{AuthToken: "t"}); err == nil {
		t.Error("no Handle: want error")
	}
}

func TestReceiver(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		auth       string // header value; "-" for none
		body       string
		handleErr  error
		wantStatus int
		wantEvent  *Event // nil: Handle must not be called
		wantError  string // text in the {"error":...} answer
	}{
		{"note", "POST", "Bearer " + hookToken, noteBody, nil, 200,
			&Event{Kind: EventNote, Note: &IncidentNotePayload{CallID: "c1", IncidentID: "INC-1", Note: IncidentNote{Type: NoteInfo, Note: "hazard: downed power line", Critical: true, CreatedAt: "2024-05-01T10:00:00Z"}}}, ""},
		{"status", "POST", "Bearer " + hookToken, statusBody, nil, 200,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, ""},
		{"activation", "POST", "Bearer " + hookToken, activationBody, nil, 200,
			&Event{Kind: EventActivation, Activation: &AssistantActivationWebhook{CallID: "c1", AssistantID: 3, AssistantName: "Fire"}}, ""},
		{"raw token accepted", "POST", hookToken, statusBody, nil, 200,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, ""},
		{"lower-case bearer accepted", "POST", "bearer " + hookToken, statusBody, nil, 200,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, ""},
		{"wrong token", "POST", "Bearer nope", noteBody, nil, 401, nil, "unauthorized"},
		{"token prefix only", "POST", "Bearer hook", noteBody, nil, 401, nil, "unauthorized"},
		{"token with suffix", "POST", hookToken + "x", noteBody, nil, 401, nil, "unauthorized"},
		{"Bearer without token", "POST", "Bearer ", noteBody, nil, 401, nil, "unauthorized"},
		{"missing header", "POST", "-", noteBody, nil, 401, nil, "unauthorized"},
		{"body too large", "POST", hookToken, `{"callId":"c1","status":"ENDED","pad":"` + strings.Repeat("x", 2048) + `"}`, nil, 413, nil, "too large"},
		{"malformed JSON", "POST", hookToken, `{"callId":"c1",`, nil, 400, nil, "malformed JSON"},
		{"unknown event shape", "POST", hookToken, `{"callId":"c1","mood":"happy"}`, nil, 400, nil, "unknown event"},
		{"note missing callId", "POST", hookToken, `{"incidentId":"I","note":{"type":"INFO","note":"n","createdAt":"t"}}`, nil, 400, nil, "callId"},
		{"GET", "GET", hookToken, "", nil, 405, nil, "method not allowed"},
		{"outbox full", "POST", hookToken, statusBody, fmt.Errorf("enqueue: %w", outbox.ErrFull), 503,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, "outbox full"},
		{"disk full", "POST", hookToken, statusBody, fmt.Errorf("enqueue: %w: write: no space left on device", outbox.ErrNoSpace), 503,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, "disk full"},
		{"handle error", "POST", hookToken, statusBody, errors.New("disk on fire"), 500,
			&Event{Kind: EventCallStatus, Status: &CallStatusUpdateWebhook{CallID: "c1", Status: CallEnded}}, "not stored"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &handleRecorder{err: tc.handleErr}
			r, err := NewReceiver(ReceiverOptions{AuthToken: hookToken, MaxBody: 1024, Handle: rec.handle})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(r)
			defer srv.Close()

			req, _ := http.NewRequest(tc.method, srv.URL+"/webhookhandler/cad", strings.NewReader(tc.body))
			if tc.auth != "-" {
				req.Header.Set("Authorization", tc.auth)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var answer map[string]string
			if err := json.Unmarshal(body, &answer); err != nil {
				t.Fatalf("answer %q is not JSON: %v", body, err)
			}
			if tc.wantStatus == 200 {
				if answer["status"] != "ok" {
					t.Errorf("answer %s", body)
				}
			} else if !strings.Contains(answer["error"], tc.wantError) {
				t.Errorf("answer %s lacks %q", body, tc.wantError)
			}
			if strings.Contains(string(body), "downed power") || strings.Contains(string(body), hookToken) {
				t.Errorf("answer leaks note text or token: %s", body)
			}

			got := rec.got()
			switch {
			case tc.wantEvent == nil && len(got) != 0:
				t.Errorf("Handle called %d times, want none", len(got))
			case tc.wantEvent != nil && len(got) != 1:
				t.Errorf("Handle called %d times, want once", len(got))
			case tc.wantEvent != nil && !reflect.DeepEqual(got[0], *tc.wantEvent):
				t.Errorf("event %+v, want %+v", got[0], *tc.wantEvent)
			}

			switch tc.wantStatus {
			case 405:
				if a := resp.Header.Get("Allow"); a != "POST" {
					t.Errorf("Allow %q", a)
				}
			case 503:
				if ra := resp.Header.Get("Retry-After"); ra != "30" {
					t.Errorf("Retry-After %q", ra)
				}
			}
		})
	}
}

// A body larger than MaxBody sent without Content-Length (chunked) is cut off by
// MaxBytesReader rather than by the Content-Length check.
func TestReceiverChunkedTooLarge(t *testing.T) {
	rec := &handleRecorder{}
	r, _ := NewReceiver(ReceiverOptions{AuthToken: hookToken, MaxBody: 64, Handle: rec.handle})
	srv := httptest.NewServer(r)
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, `{"callId":"c1","status":"ENDED","pad":"`+strings.Repeat("x", 200)+`"}`)
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL, pr)
	req.Header.Set("Authorization", hookToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || len(rec.got()) != 0 {
		t.Errorf("status %d, %d events", resp.StatusCode, len(rec.got()))
	}
	if s := r.Stats(); s.TooLarge != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestReceiverStatsAndLogs(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fail := errors.New("boom")
	var next error
	var nmu sync.Mutex
	r, _ := NewReceiver(ReceiverOptions{AuthToken: hookToken, MaxBody: 512, Logger: log,
		Handle: func(ctx context.Context, ev Event) error {
			if ctx.Err() != nil {
				t.Error("Handle got a cancelled context")
			}
			nmu.Lock()
			defer nmu.Unlock()
			return next
		}})
	srv := httptest.NewServer(r)
	defer srv.Close()
	post := func(auth, body string, handleErr error) {
		nmu.Lock()
		next = handleErr
		nmu.Unlock()
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(hookToken, noteBody, nil)
	post(hookToken, noteBody, nil)
	post("x", noteBody, nil)
	post(hookToken, strings.Repeat(" ", 600), nil)
	post(hookToken, `nope`, nil)
	post(hookToken, noteBody, outbox.ErrFull)
	post(hookToken, noteBody, fail)
	resp, _ := srv.Client().Get(srv.URL)
	resp.Body.Close()

	want := ReceiverStats{Accepted: 2, Unauthorized: 1, TooLarge: 1, BadRequest: 1, Full: 1, Error: 1, MethodNotAllowed: 1}
	if got := r.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	s := logs.String()
	if strings.Contains(s, "downed power") || strings.Contains(s, hookToken) {
		t.Errorf("logs leak note text or token:\n%s", s)
	}
	if !strings.Contains(s, `"call_id":"c1"`) || !strings.Contains(s, `"kind":"note"`) {
		t.Errorf("logs lack kind/call_id:\n%s", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
