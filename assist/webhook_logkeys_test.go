package assist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// errReader fails every read (a body cut off mid-way).
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// The receiver's log lines use the project's keys: call_id for the call, err for an error.
func TestReceiverLogKeys(t *testing.T) {
	tests := []struct {
		name   string
		result error
		body   io.Reader
		want   []string
	}{
		{"accepted", nil, strings.NewReader(noteBody), []string{"call_id=c1"}},
		{"outbox full", fmt.Errorf("queue: %w", outbox.ErrFull), strings.NewReader(noteBody), []string{"call_id=c1"}},
		{"not stored", errors.New("store broke"), strings.NewReader(noteBody), []string{"call_id=c1", `err="store broke"`}},
		{"body unreadable", nil, errReader{}, []string{`err="connection reset"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r, err := NewReceiver(ReceiverOptions{
				AuthToken: hookToken,
				Logger:    slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
				Handle:    func(context.Context, Event) error { return tc.result },
			})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/webhookhandler/cad", tc.body)
			req.Header.Set("Authorization", "Bearer "+hookToken)
			r.ServeHTTP(httptest.NewRecorder(), req)
			logs := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(logs, w) {
					t.Errorf("log lacks %s:\n%s", w, logs)
				}
			}
			if strings.Contains(logs, "callId=") || strings.Contains(logs, " error=") {
				t.Errorf("log uses callId/error keys:\n%s", logs)
			}
		})
	}
}
