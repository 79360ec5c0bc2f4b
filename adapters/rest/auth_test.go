package rest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

const (
	testClientSecret = "s3cr3t-client-secret-value"
	testPassword     = "s3cr3t-login-password"
)

// syncBuffer is a bytes.Buffer for a logger written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// authAPI is a sim.CADAPI that wants auth (o.OAuth2 or o.Login), with its Source and Sink
// configured by edit and logging at debug into logs.
func authAPI(t *testing.T, o sim.CADAPIOptions, edit func(c *Config, srv *httptest.Server)) (*sim.CADAPI, *Source, *Sink, *syncBuffer) {
	t.Helper()
	api, srv := pagedAPI(t, o, 3)
	c := NewConfig()
	c.BaseURL = srv.URL + "/api"
	c.Poll.Path = "/v2/incidents?since={{.Cursor}}"
	c.Poll.Items = "data"
	c.Poll.CursorField = "updated"
	c.Poll.Pagination.Next = "links.next"
	c.WriteNote.Path = "/v2/incidents/{{.IncidentID}}/notes"
	c.Timeout = 5 * time.Second
	edit(c, srv)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, sink, err := New(c, adapters.Deps{State: &adapters.MemState{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return api, src, sink, logs
}

// noSecretsLogged fails t when logs or errs hold a token api issued or a secret.
func noSecretsLogged(t *testing.T, api *sim.CADAPI, logs string, errs ...error) {
	t.Helper()
	if !strings.Contains(logs, "cad request") {
		t.Fatal("nothing logged at debug: the check proves nothing")
	}
	secrets := append(api.IssuedTokens(), testClientSecret, testPassword)
	for _, e := range errs {
		if e != nil {
			logs += "\n" + e.Error()
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("a token or secret (%.4s…) is in the logs or errors", s)
		}
	}
}

// TestOAuth2ClientCredentials: the token comes from the token URL with the client's
// credentials and scopes, is reused while valid, replaced before it expires, and on a 401
// (revoked) fetched anew with the request sent once more; the Sink authenticates the same
// way; nothing logged at debug holds a token or the secret.
func TestOAuth2ClientCredentials(t *testing.T) {
	api, src, sink, logs := authAPI(t, sim.CADAPIOptions{OAuth2: &sim.OAuth2Client{ID: "sidecar", Secret: testClientSecret, TTL: time.Minute}},
		func(c *Config, srv *httptest.Server) {
			c.Auth.OAuth2 = OAuth2Config{TokenURL: srv.URL + "/oauth/token", ClientID: "sidecar", ClientSecret: testClientSecret, Scopes: []string{"incidents.read", "incidents.write"}}
		})
	ctx := context.Background()
	for range 2 {
		if b, err := src.Poll(ctx, "0"); err != nil || len(b.Records) != 3 {
			t.Fatalf("Poll = %d records, %v", len(b.Records), err)
		}
	}
	if n := api.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for two polls, want 1 (reused while valid)", n)
	}
	if got := api.Scopes(); !slices.Equal(got, []string{"incidents.read", "incidents.write"}) {
		t.Fatalf("scopes asked %q", got)
	}
	id := api.CAD().Incidents()[0]
	if err := sink.WriteNote(ctx, adapters.Note{IncidentID: id, Text: "hello", Key: "k1"}); err != nil {
		t.Fatalf("WriteNote: %v", err)
	}
	// Close to its expiry (a minute; replaced 30s before) the token is replaced first.
	oa := src.cl.auth.(*oauth2Auth)
	oa.now = func() time.Time { return time.Now().Add(45 * time.Second) }
	if _, err := src.Poll(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	if n, u := api.TokenRequests(), api.Unauthorized(); n != 2 || u != 0 {
		t.Fatalf("near expiry: %d token requests, %d refused; want 2 and 0 (replaced before it expired)", n, u)
	}
	oa.now = time.Now
	api.RevokeTokens()
	if b, err := src.Poll(ctx, "0"); err != nil || len(b.Records) != 3 {
		t.Fatalf("Poll after the token was revoked = %d records, %v (want a new token and the request again)", len(b.Records), err)
	}
	if n, u := api.TokenRequests(), api.Unauthorized(); n != 3 || u != 1 {
		t.Fatalf("after revocation: %d token requests, %d refused; want 3 and 1", n, u)
	}
	api.RevokeTokens()
	if err := sink.WriteNote(ctx, adapters.Note{IncidentID: id, Text: "again", Key: "k2"}); err != nil {
		t.Fatalf("WriteNote after revocation: %v", err)
	}
	if n := len(api.CAD().Notes(id)); n != 2 {
		t.Fatalf("%d notes stored, want 2", n)
	}
	if ok, bad := metricValue(src.m.tokens.WithLabelValues("ok")), metricValue(src.m.tokens.WithLabelValues("error")); ok != 4 || bad != 0 {
		t.Errorf("cad_sidecar_rest_token_requests_total ok=%v error=%v, want 4 and 0", ok, bad)
	}
	noSecretsLogged(t, api, logs.String())
}

// TestOAuth2WrongSecret: a token request refused fails the poll transiently (notes wait,
// polls back off), naming the token URL and status but neither secret nor answer.
func TestOAuth2WrongSecret(t *testing.T) {
	api, src, sink, logs := authAPI(t, sim.CADAPIOptions{OAuth2: &sim.OAuth2Client{ID: "sidecar", Secret: "the-right-one"}},
		func(c *Config, srv *httptest.Server) {
			c.Auth.OAuth2 = OAuth2Config{TokenURL: srv.URL + "/oauth/token", ClientID: "sidecar", ClientSecret: testClientSecret}
		})
	_, err := src.Poll(context.Background(), "0")
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "/oauth/token: 401") {
		t.Fatalf("Poll with a wrong secret = %v; want a transient error naming the token URL and 401", err)
	}
	werr := sink.WriteNote(context.Background(), adapters.Note{IncidentID: "1", Text: "x"})
	if werr == nil || delivery.IsPermanent(werr) {
		t.Fatalf("WriteNote with a wrong secret = %v; want transient (the note waits)", werr)
	}
	_, _ = src.Poll(context.Background(), "0") // more debug lines
	logs.Write([]byte("cad request (marker)\n"))
	if bad := metricValue(src.m.tokens.WithLabelValues("error")); bad != 3 {
		t.Errorf("cad_sidecar_rest_token_requests_total{result=\"error\"} = %v, want 3", bad)
	}
	noSecretsLogged(t, api, logs.String(), err, werr)
}

// TestLoginSession: a login request answers a session token, sent in the configured header;
// a 401 (session ended) logs in again and sends the request once more.
func TestLoginSession(t *testing.T) {
	api, src, sink, logs := authAPI(t, sim.CADAPIOptions{Login: &sim.LoginUser{Username: "cadsvc", Password: testPassword}},
		func(c *Config, _ *httptest.Server) {
			c.Auth.Login.Path = "/v2/login"
			c.Auth.Login.Username, c.Auth.Login.Secret = "cadsvc", testPassword
			c.Auth.Login.TokenPath = "session.token"
			c.Auth.Login.Header, c.Auth.Login.Format = "X-Session", "{{.Token}}"
		})
	ctx := context.Background()
	for range 2 {
		if b, err := src.Poll(ctx, "0"); err != nil || len(b.Records) != 3 {
			t.Fatalf("Poll = %d records, %v", len(b.Records), err)
		}
	}
	if n := api.TokenRequests(); n != 1 {
		t.Fatalf("%d logins for two polls, want 1", n)
	}
	api.RevokeTokens()
	id := api.CAD().Incidents()[1]
	if err := sink.WriteNote(ctx, adapters.Note{IncidentID: id, Text: "hi", Key: "k"}); err != nil {
		t.Fatalf("WriteNote after the session ended: %v", err)
	}
	if n, u := api.TokenRequests(), api.Unauthorized(); n != 2 || u != 1 {
		t.Fatalf("%d logins, %d refused; want 2 and 1", n, u)
	}
	noSecretsLogged(t, api, logs.String())
}
