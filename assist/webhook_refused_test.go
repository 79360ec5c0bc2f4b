package assist

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// OnRefused is told the status of every refused request, and of no accepted one.
func TestReceiverOnRefused(t *testing.T) {
	var mu sync.Mutex
	var got []int
	full := false
	r, err := NewReceiver(ReceiverOptions{
		AuthToken: hookToken, MaxBody: 1024,
		Handle: func(context.Context, Event) error {
			if full {
				return fmt.Errorf("queue note: %w", outbox.ErrFull)
			}
			return nil
		},
		OnRefused: func(status int) { mu.Lock(); got = append(got, status); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, auth, body string
		full                     bool
		want                     int // 0 = accepted, not reported
	}{
		{"accepted", "POST", hookToken, noteBody, false, 0},
		{"wrong token", "POST", "nope", noteBody, false, 401},
		{"malformed", "POST", hookToken, `{"callId":`, false, 400},
		{"too large", "POST", hookToken, strings.Repeat("x", 2048), false, 413},
		{"outbox full", "POST", hookToken, noteBody, true, 503},
		{"wrong method", "GET", hookToken, "", false, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got, full = nil, tt.full
			mu.Unlock()
			req := httptest.NewRequest(tt.method, "/webhookhandler/cad", strings.NewReader(tt.body))
			req.Header.Set("Authorization", tt.auth)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			mu.Lock()
			defer mu.Unlock()
			if tt.want == 0 {
				if w.Code != http.StatusOK || len(got) != 0 {
					t.Fatalf("status %d, reported %v", w.Code, got)
				}
				return
			}
			if w.Code != tt.want || len(got) != 1 || got[0] != tt.want {
				t.Fatalf("status %d, reported %v; want %d once", w.Code, got, tt.want)
			}
		})
	}
}
