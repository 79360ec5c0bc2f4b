package sidecar_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// echoingCAD refuses every note and quotes it back: 400 for a note whose text contains
// "REFUSE", 503 for the others; once it has seen a note it also answers polls 503 with the
// last note in the body (an error page that shows the last request).
type echoingCAD struct {
	mu       sync.Mutex
	last     string
	attempts map[string]int // by note text marker
}

func (c *echoingCAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method == http.MethodPost {
		c.last = string(b)
		for _, m := range []string{"SECRET-REFUSE", "SECRET-LATER"} {
			if strings.Contains(c.last, m) {
				c.attempts[m]++
			}
		}
		status := http.StatusServiceUnavailable
		if strings.Contains(c.last, "REFUSE") {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"note rejected","note":`+c.last+`}`)
		return
	}
	if c.last != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "maintenance; last request was: "+c.last)
		return
	}
	_, _ = io.WriteString(w, `{"data":[]}`)
}

func (c *echoingCAD) tries(marker string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts[marker]
}

// A CAD that echoes the notes it refuses (400: dead letter; 503: retried) and shows them on
// its error page puts no note text into the log at info, into /readyz or into the dead
// letter's reason. With log.content: true (or at debug) the answers are logged.
func TestCADEchoedNoteStaysOutOfLogsAndReadyz(t *testing.T) {
	for _, tc := range []struct {
		name    string
		level   slog.Level
		content bool
		inLog   bool
	}{
		{"info", slog.LevelInfo, false, false},
		{"info with log.content", slog.LevelInfo, true, true},
		{"debug", slog.LevelDebug, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cad := &echoingCAD{attempts: map[string]int{}}
			srv := httptest.NewServer(cad)
			defer srv.Close()
			e := start(t, envOptions{
				cadURL: srv.URL + "/api",
				edit:   func(c *config.Config) { c.Log.Content = tc.content },
				logHandler: func(w io.Writer) slog.Handler {
					return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: tc.level})
				},
			})
			for _, txt := range []string{"SECRET-REFUSE caller Jane Roe", "SECRET-LATER caller Jane Roe"} {
				if resp, body := post(t, e.hookURL, hookToken, noteBody("INC-1", txt)); resp.StatusCode != http.StatusOK {
					t.Fatalf("webhook: %d %s", resp.StatusCode, body)
				}
			}
			var dead []outbox.DeadLetter
			waitFor(t, 20*time.Second, "the refused note in the dead letters, the other retried, a poll failed", func() bool {
				var err error
				dead, err = e.s.Store().DeadLetters(outbox.TopicNote)
				ready, checks := e.s.Ready()
				return err == nil && len(dead) == 1 && cad.tries("SECRET-LATER") >= 2 && !ready &&
					strings.HasPrefix(checks["cad_poll"].Detail, "last poll failed")
			})
			resp, err := http.Get(e.adminURL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			readyz, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(readyz), "Jane") || !strings.Contains(string(readyz), "503") {
				t.Errorf("/readyz: %s", readyz)
			}
			if strings.Contains(dead[0].Reason, "Jane") || !strings.Contains(dead[0].Reason, "400") {
				t.Errorf("dead letter reason %q", dead[0].Reason)
			}
			logs := e.logs.String()
			if got := strings.Contains(logs, "Jane"); got != tc.inLog {
				t.Errorf("note text in the log = %v, want %v:\n%s", got, tc.inLog, logs)
			}
			if !strings.Contains(logs, `"status":503`) && !strings.Contains(logs, "503 Service Unavailable") {
				t.Errorf("the log does not say what the CAD answered:\n%s", logs)
			}
		})
	}
}

// Assist refusing a link with an answer that echoes the request (the incident's fields)
// puts none of it in the log at info.
func TestAssistEchoedLinkStaysOutOfLogs(t *testing.T) {
	echo := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/cad/incident" {
				next.ServeHTTP(w, r)
				return
			}
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(append([]byte(`{"error":true,"errorMessage":"bad request: `), append(b, `"}`...)...))
		})
	}
	e := start(t, envOptions{
		wrapAssist: echo,
		logHandler: func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
		},
		mapping: `
mapping:
  incident_id: IncidentNumber
  fields:
    - {name: Caller, template: 'CALLER-SECRET-{{.IncidentNumber}}'}
`,
	})
	e.cad.AddIncident()
	waitFor(t, 20*time.Second, "the link refused", func() bool { return strings.Contains(e.logs.String(), "link to Assist failed") })
	logs := e.logs.String()
	if strings.Contains(logs, "CALLER-SECRET") {
		t.Fatalf("the echoed request is in the info log:\n%s", logs)
	}
	if !strings.Contains(logs, "400 Bad Request") {
		t.Fatalf("the log does not say what Assist answered:\n%s", logs)
	}
}
