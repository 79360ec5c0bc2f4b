package rest

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

type seen struct {
	method, path, rawPath, body string
	header                      http.Header
}

// recorder answers status (with extra headers) and records the requests. The send never
// blocks: were a regression to send many requests (a redirect loop, retries), the handler
// must not hang the server's Close (and the test) until the 10-minute timeout; requests
// beyond the channel's room are dropped and fail the test.
func recorder(t *testing.T, status int, hdr map[string]string, body string) (*httptest.Server, chan seen) {
	ch := make(chan seen, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case ch <- seen{r.Method, r.URL.Path, r.URL.EscapedPath(), string(b), r.Header.Clone()}:
		default:
			t.Errorf("more than %d requests to the recorder: %s %s", cap(ch), r.Method, r.URL.Path)
		}
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// next returns the next recorded request, or fails the test after 5s.
func next(t *testing.T, ch chan seen) seen {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("timed out after 5s waiting for a request to the recorder")
		return seen{}
	}
}

var note = adapters.Note{
	IncidentID: "260045123", CallID: "c-1", Type: "INFO", Note: `smoke "2nd" floor`,
	Critical: true, CreatedAt: "2026-01-02T10:00:00Z", Text: `[Assist CRITICAL] smoke "2nd" floor`, Key: "k-1",
}

func TestWriteNoteHappyPath(t *testing.T) {
	srv, ch := recorder(t, http.StatusCreated, nil, `{"id":1}`)
	_, sink := newTest(t, srv, func(c *Config) {
		c.Headers = map[string]string{"X-Api-Key": "secret"}
		c.Auth.Bearer = "tok"
	})
	if err := sink.WriteNote(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	got := next(t, ch)
	if got.method != "POST" || got.path != "/api/incidents/260045123/notes" {
		t.Fatalf("request %s %s", got.method, got.path)
	}
	if want := `{"text": "[Assist CRITICAL] smoke \"2nd\" floor", "critical": true}`; got.body != want {
		t.Fatalf("body %s\nwant %s", got.body, want)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "X-Api-Key": "secret",
		"Authorization": "Bearer tok", "Idempotency-Key": "k-1",
	} {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
}

func TestWriteNoteCustomTemplatesBasicAuth(t *testing.T) {
	srv, ch := recorder(t, http.StatusNoContent, nil, "")
	_, sink := newTest(t, srv, func(c *Config) {
		c.Auth.Basic = BasicAuth{Username: "u", Password: "p w"}
		c.WriteNote = WriteNoteConfig{
			Method:      "put",
			Path:        "/incidents/{{.IncidentID}}/notes/{{path .Key}}?type={{query .Type}}",
			Body:        `<note critical="{{.Critical}}">{{xml .Text}}</note>`,
			ContentType: "application/xml",
		}
	})
	n := note
	n.IncidentID = "a/b c"
	n.Key = ""
	if err := sink.WriteNote(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	got := next(t, ch)
	if got.method != "PUT" || got.rawPath != "/api/incidents/a%2Fb%20c/notes/" {
		t.Fatalf("request %s %s", got.method, got.rawPath)
	}
	if want := `<note critical="true">[Assist CRITICAL] smoke &#34;2nd&#34; floor</note>`; got.body != want {
		t.Fatalf("body %s", got.body)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p w")); got.header.Get("Authorization") != want {
		t.Fatalf("Authorization %q", got.header.Get("Authorization"))
	}
	if got.header.Get("Content-Type") != "application/xml" || got.header.Get("Idempotency-Key") != "" {
		t.Fatalf("headers %v", got.header)
	}
}

func TestWriteNoteErrors(t *testing.T) {
	long := strings.Repeat("x", 500)
	for _, tc := range []struct {
		name      string
		status    int
		hdr       map[string]string
		body      string
		permanent bool
		delay     time.Duration
		contains  string
	}{
		{"400", 400, nil, "no such field " + long, true, 0, "POST /incidents/260045123/notes: 400 Bad Request (514-byte answer)"},
		{"404", 404, nil, "", true, 0, "404"},
		{"503 retry-after", 503, map[string]string{"Retry-After": "3"}, "down", false, 3 * time.Second, "503"},
		{"429", 429, map[string]string{"Retry-After": "1"}, "", false, time.Second, "429"},
		{"408", 408, nil, "", false, 0, "408"},
		{"500", 500, nil, "boom", false, 0, "500 Internal Server Error (4-byte answer)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := recorder(t, tc.status, tc.hdr, tc.body)
			_, sink := newTest(t, srv, func(c *Config) { c.BaseURL = srv.URL })
			err := sink.WriteNote(context.Background(), note)
			if err == nil {
				t.Fatal("no error")
			}
			if delivery.IsPermanent(err) != tc.permanent {
				t.Fatalf("IsPermanent = %v: %v", !tc.permanent, err)
			}
			d, ok := delivery.RetryDelay(err)
			if ok != (tc.delay > 0) || d != tc.delay {
				t.Fatalf("RetryDelay = %v %v, want %v: %v", d, ok, tc.delay, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("%q does not contain %q", err, tc.contains)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error too long (%d): %s", len(err.Error()), err)
			}
			if strings.Contains(err.Error(), "smoke") {
				t.Fatalf("error leaks the note text: %s", err)
			}
			var ev interface{ Evidence() string }
			if tc.body != "" && (!errors.As(err, &ev) || !strings.HasPrefix(ev.Evidence(), tc.body[:min(len(tc.body), 20)])) {
				t.Fatalf("the answer is not the error's evidence: %v", err)
			}
		})
	}
}

func TestWriteNoteConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := NewConfig()
	c.BaseURL = "http://" + addr
	c.Poll.Path = "/x"
	_, sink, err := New(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	err = sink.WriteNote(context.Background(), note)
	if err == nil || delivery.IsPermanent(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v; want transient connection refused", err)
	}
}

func TestWriteNoteTemplateErrorsArePermanent(t *testing.T) {
	srv, ch := recorder(t, 201, nil, "")
	_, sink := newTest(t, srv, func(c *Config) {
		// Valid for the notes validation renders, invalid JSON for this one: the sink
		// still refuses to send it (validation cannot try every note).
		c.WriteNote.Body = `{"text": {{if .UserID}}{{json .Text}}{{else}}{{.Text}}{{end}}}`
	})
	err := sink.WriteNote(context.Background(), note)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "valid JSON") {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-ch:
		t.Fatal("a request was sent")
	default:
	}
}

func TestWriteNoteTimeoutIsTransient(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	_, sink := newTest(t, srv, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	err := sink.WriteNote(context.Background(), note)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteNoteRedirectIsNotFollowed(t *testing.T) {
	srv, ch := recorder(t, http.StatusFound, map[string]string{"Location": "/login"}, "")
	_, sink := newTest(t, srv, nil)
	err := sink.WriteNote(context.Background(), note)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), `302 Found`) || !strings.Contains(err.Error(), `redirected to "/login"`) {
		t.Fatalf("err = %v", err)
	}
	next(t, ch)
	select {
	case s := <-ch:
		t.Fatalf("redirect followed: %s %s", s.method, s.path)
	default:
	}
}

// The default write_note templates are rendered without text/template; the bytes must be
// exactly what the templates give.
func TestDefaultTemplatesFastPath(t *testing.T) {
	c := NewConfig()
	c.BaseURL = "http://cad.local/api"
	c.Poll.Path = "/incidents"
	tm, errs := parseTemplates(c)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	notes := []adapters.Note{
		{IncidentID: "260045123", Text: "plain", Critical: true},
		{IncidentID: "A/B 7?x#y%z", Text: `quotes " and \ backslash, <tags> & amps`, Critical: false},
		{IncidentID: "ünï", Text: "line\nbreak\ttab \u2028 sep \u0001 ctl, emoji 🚒"},
		{IncidentID: "", Text: ""},
	}
	for _, n := range notes {
		wantPath, err := render(tm.notePath, newNotePathData(n))
		if err != nil {
			t.Fatal(err)
		}
		wantBody, err := render(tm.noteBody, n)
		if err != nil {
			t.Fatal(err)
		}
		gotBody, err := renderDefaultBody(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := renderDefaultPath(n); got != wantPath {
			t.Errorf("path %q, template gives %q", got, wantPath)
		}
		if gotBody != wantBody {
			t.Errorf("body %q, template gives %q", gotBody, wantBody)
		}
	}
}
