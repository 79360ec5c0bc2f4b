package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"text/template"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Authentication that needs a token first (cad.rest.auth.oauth2, cad.rest.auth.login).
// The token is fetched before the first request, kept in memory only, refreshed before it
// expires (OAuth2) or after login.ttl, and fetched anew when the CAD answers 401 — the
// request is then sent once more with the new token. Tokens and secrets are never logged
// nor put in errors: a failed token request says where it went and the status.

// tokenAuth is a source of the header that authenticates a request.
type tokenAuth interface {
	// header returns the header's name and value, fetching a token when there is none
	// valid.
	header(ctx context.Context) (name, value string, err error)
	// refused drops the token behind value (the CAD answered 401 to it), so that the next
	// header fetches a new one; a token already replaced is left alone.
	refused(value string)
}

// refreshBefore is how long before its expiry an OAuth2 token is replaced.
const refreshBefore = 30 * time.Second

// oauth2Auth is OAuth2 client credentials (RFC 6749 §4.4).
type oauth2Auth struct {
	cfg clientcredentials.Config
	hc  *http.Client // the adapter's own (newHTTPClient): the same transport as the CAD's
	now func() time.Time
	m   *metrics

	mu  sync.Mutex
	tok *oauth2.Token
}

func newOAuth2(c OAuth2Config, hc *http.Client, m *metrics) *oauth2Auth {
	params := map[string][]string{}
	for k, v := range c.Params {
		params[k] = []string{v}
	}
	return &oauth2Auth{cfg: clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.TokenURL, Scopes: c.Scopes, EndpointParams: params},
		hc: hc, now: time.Now, m: m}
}

func (a *oauth2Auth) header(ctx context.Context) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.tok; t != nil && (t.Expiry.IsZero() || a.now().Add(refreshBefore).Before(t.Expiry)) {
		return "Authorization", t.Type() + " " + t.AccessToken, nil
	}
	t, err := a.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, a.hc))
	a.m.token(err)
	if err != nil {
		return "", "", tokenError("OAuth2 token", "POST", a.cfg.TokenURL, err)
	}
	a.tok = t
	return "Authorization", t.Type() + " " + t.AccessToken, nil
}

func (a *oauth2Auth) refused(value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != nil && strings.HasSuffix(value, " "+a.tok.AccessToken) {
		a.tok = nil
	}
}

// tokenError describes a failed token request without its answer (which may hold a
// token or echo a secret): where it went, and the status or the OAuth2 error code. It is
// transient: notes wait (a wrong secret must not dead-letter every note) and polls back
// off.
func tokenError(what, method, target string, err error) error {
	msg := fmt.Sprintf("rest: %s: %s %s", what, method, withoutQuery(target))
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.Response != nil {
			msg += fmt.Sprintf(": %d %s", re.Response.StatusCode, http.StatusText(re.Response.StatusCode))
		}
		if re.ErrorCode != "" {
			msg += fmt.Sprintf(" (%s)", re.ErrorCode)
		}
		return delivery.Transient(errors.New(msg))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return delivery.Transient(fmt.Errorf("%s: %w", msg, err))
	}
	var ae *AnswerError
	if errors.As(err, &ae) {
		return delivery.Transient(fmt.Errorf("%s: %d %s", msg, ae.Status, http.StatusText(ae.Status)))
	}
	return delivery.Transient(fmt.Errorf("%s: %w", msg, redactURLError(err)))
}

// redactURLError keeps a transport error's kind but not a URL's query.
func redactURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.Contains(err.Error(), "?") {
		return errors.New("request failed: " + ue.Unwrap().Error())
	}
	return err
}

// loginAuth is a session login: one request (login.method login.path, body rendered
// from login.body with .Username and .Secret) whose answer holds a token at
// login.token_path; the token goes in login.header, formatted by login.format (.Token).
type loginAuth struct {
	cl          *client
	method      string
	path        string
	body        *template.Template
	contentType string
	username    string
	secret      string
	tokenPath   string
	headerName  string
	format      *template.Template
	ttl         time.Duration
	now         func() time.Time
	m           *metrics

	mu    sync.Mutex
	value string
	at    time.Time
}

// loginData is the data of login.body.
type loginData struct{ Username, Secret string }

func (a *loginAuth) header(ctx context.Context) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.value != "" && (a.ttl <= 0 || a.now().Sub(a.at) < a.ttl) {
		return a.headerName, a.value, nil
	}
	name, value, err := a.login(ctx)
	a.m.token(err)
	return name, value, err
}

// login makes the login request (a.mu held).
func (a *loginAuth) login(ctx context.Context) (string, string, error) {
	body, err := render(a.body, loginData{Username: a.username, Secret: a.secret})
	if err != nil {
		return "", "", delivery.Permanentf("rest: auth.login.body: %w", err)
	}
	resp, err := a.cl.send(ctx, a.method, a.path, []byte(body), map[string]string{"Content-Type": a.contentType, "Accept": "application/json"}, nil)
	if err != nil {
		return "", "", tokenError("login", a.method, a.path, err)
	}
	if resp.status < 200 || resp.status > 299 {
		return "", "", tokenError("login", a.method, a.path, &AnswerError{Status: resp.status})
	}
	doc, err := decodeDoc(resp.body, record.JSON, record.Options{})
	if err != nil {
		return "", "", delivery.Transient(fmt.Errorf("rest: login: %s %s: %w", a.method, withoutQuery(a.path), err))
	}
	v, ok := bodyLookup(doc, a.tokenPath)
	tok := ""
	if ok && v != nil {
		tok = strings.TrimSpace(record.String(v))
	}
	if tok == "" {
		return "", "", delivery.Transient(fmt.Errorf("rest: login: %s %s: no token at auth.login.token_path %q in the answer", a.method, withoutQuery(a.path), a.tokenPath))
	}
	var b bytes.Buffer
	if err := a.format.Execute(&b, struct{ Token string }{tok}); err != nil {
		return "", "", delivery.Permanentf("rest: auth.login.format: %w", err)
	}
	a.value, a.at = b.String(), a.now()
	return a.headerName, a.value, nil
}

func (a *loginAuth) refused(value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.value == value {
		a.value = ""
	}
}

// parseLogin parses login.body and login.format (as Validate does).
func parseLogin(c LoginConfig) (body, format *template.Template, err error) {
	body, err = template.New("auth.login.body").Funcs(funcs).Option("missingkey=error").Parse(c.Body)
	if err == nil {
		err = body.Execute(new(bytes.Buffer), loginData{Username: "u", Secret: "s"})
	}
	if err != nil {
		return nil, nil, &templateError{Key: "auth.login.body", Text: c.Body, Err: err}
	}
	format, err = template.New("auth.login.format").Funcs(funcs).Option("missingkey=error").Parse(c.Format)
	if err == nil {
		err = format.Execute(new(bytes.Buffer), struct{ Token string }{"t"})
	}
	if err != nil {
		return nil, nil, &templateError{Key: "auth.login.format", Text: c.Format, Err: err}
	}
	return body, format, nil
}
