package rest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// echoCAD answers every request with status and a body that echoes the request body — as
// a CAD that quotes the note it refuses.
func echoCAD(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"rejected","request":` + b.String() + `}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// An error describing the CAD's answer names the method, the path (without the query),
// the status and the size of the answer — never the answer itself, which may quote the note
// (caller data). The answer is the error's Evidence, for the dead letter.
func TestAnswerErrorsKeepTheBodyAsEvidence(t *testing.T) {
	for _, status := range []int{400, 503} {
		srv := echoCAD(t, status)
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		c := NewConfig()
		c.BaseURL, c.Poll.Path = srv.URL+"/api", "/incidents?since={{.Cursor}}"
		src, sink, err := New(c, adapters.Deps{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		err = sink.WriteNote(context.Background(), note)
		if err == nil {
			t.Fatalf("%d: no error", status)
		}
		msg := err.Error()
		if strings.Contains(msg, "smoke") || strings.Contains(msg, "rejected") {
			t.Errorf("%d: Error() carries the answer: %s", status, msg)
		}
		for _, want := range []string{"POST /incidents/260045123/notes", http.StatusText(status), "byte"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%d: Error() %q does not contain %q", status, msg, want)
			}
		}
		var ev interface{ Evidence() string }
		if !errors.As(err, &ev) || !strings.Contains(ev.Evidence(), `smoke \"2nd\" floor`) {
			t.Errorf("%d: no Evidence with the answer: %v", status, err)
		}
		// The poll's error has no query (the cursor) and no body either.
		_, err = src.Poll(context.Background(), "2026-01-01T00:00:00Z")
		if err == nil || strings.Contains(err.Error(), "since") || strings.Contains(err.Error(), "rejected") {
			t.Errorf("%d: poll error %v", status, err)
		}
		if strings.Contains(logs.String(), "smoke") || strings.Contains(logs.String(), "rejected") {
			t.Errorf("%d: info log carries the answer:\n%s", status, logs.String())
		}
	}
}

// The answer's body reaches the log at debug, or with log.content: true at info.
func TestAnswerBodyLoggedOnlyAtDebugOrWithContent(t *testing.T) {
	srv := echoCAD(t, 400)
	for _, tc := range []struct {
		name    string
		level   slog.Level
		content bool
		want    bool
	}{
		{"info", slog.LevelInfo, false, false},
		{"warn", slog.LevelWarn, false, false},
		{"debug", slog.LevelDebug, false, true},
		{"info with log.content", slog.LevelInfo, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.level}))
			c := NewConfig()
			c.BaseURL, c.Poll.Path = srv.URL, "/x"
			_, sink, err := New(c, adapters.Deps{Logger: log, LogContent: tc.content})
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.WriteNote(context.Background(), note); err == nil {
				t.Fatal("no error")
			}
			if got := strings.Contains(logs.String(), "smoke"); got != tc.want {
				t.Fatalf("body in the log = %v, want %v:\n%s", got, tc.want, logs.String())
			}
		})
	}
}
