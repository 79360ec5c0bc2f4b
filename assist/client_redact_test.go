package assist

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Assist refusing a link and echoing the request (the incident's fields — caller data)
// puts none of it in Error() nor in the log at info; the echo is the error's Evidence,
// and reaches the log at debug, or at info with log.content.
func TestLinkFailureEchoStaysOutOfErrorAndInfoLogs(t *testing.T) {
	const secret = "caller Jane Roe, 12 Elm St"
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorMessage":"invalid request ` + strings.ReplaceAll(string(b), `"`, `'`) + `"}`))
	}
	req := LinkIncidentRequest{IncidentID: "INC-1", Fields: []IncidentField{{Name: "Caller", Value: secret}}}
	for _, tc := range []struct {
		name    string
		level   slog.Level
		content bool
		inLog   bool
	}{
		{"info", slog.LevelInfo, false, false},
		{"debug", slog.LevelDebug, false, true},
		{"info with log.content", slog.LevelInfo, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := httptest.NewServer(http.HandlerFunc(echo))
			defer f.Close()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.level}))
			c := newTestClient(t, f.URL, func(o *ClientOptions) { o.Logger, o.LogContent = log, tc.content })
			_, err := c.LinkIncident(context.Background(), req)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "Jane") {
				t.Fatalf("Error() carries the echo: %s", err)
			}
			var ev interface{ Evidence() string }
			if !errors.As(err, &ev) || !strings.Contains(ev.Evidence(), "Jane") {
				t.Fatalf("the echo is not the error's evidence: %v", err)
			}
			if got := strings.Contains(logs.String(), "Jane"); got != tc.inLog {
				t.Fatalf("echo in the log = %v, want %v:\n%s", got, tc.inLog, logs.String())
			}
		})
	}
}
