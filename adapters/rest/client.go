package rest

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/httpclass"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
	"github.com/cad-sidecar/cad-sidecar/internal/outbound"
)

// maxResponseBytes bounds what the adapter reads of any answer.
const maxResponseBytes = 64 << 20

// maxEvidence is how much of an error answer an AnswerError keeps as its Evidence.
const maxEvidence = 2048

// client sends the adapter's requests; resty does no retries, the outbox does.
type client struct {
	r    *resty.Client
	base string // base_url without its trailing slash
	log  *slog.Logger
	// contentLevel is the level at which answer bodies (which may quote note text) are
	// logged: debug, or info with log.content: true.
	contentLevel slog.Level
	limit        *limiter  // cad.rest.rate_limit
	auth         tokenAuth // cad.rest.auth.oauth2 or login; nil = none or a static header
	m            *metrics
}

// newHTTPClient is the HTTP client of every request to the CAD, the token and login
// requests included: the one place its transport is made, with cad.rest.tls and
// cad.rest.proxy (internal/outbound), paths resolved against the config file's folder.
func newHTTPClient(c *Config, log *slog.Logger, deps adapters.Deps) (*http.Client, error) {
	t, err := outbound.Transport(outbound.Config{TLS: c.TLS.Resolve(deps.Dir), Proxy: c.Proxy, Key: "cad." + Name}, log)
	if err != nil {
		return nil, err
	}
	t.MaxIdleConnsPerHost = 16 // detail calls and notes run several at a time
	return &http.Client{Transport: t, Timeout: c.Timeout}, nil
}

func newClient(c *Config, log *slog.Logger, deps adapters.Deps, m *metrics) (*client, error) {
	hc, err := newHTTPClient(c, log, deps)
	if err != nil {
		return nil, err
	}
	logContent := deps.LogContent
	r := resty.NewWithClient(hc).
		SetTimeout(c.Timeout).
		SetRetryCount(0).
		SetResponseBodyLimit(maxResponseBytes).
		SetLogger(restyLogger{log}).
		// A redirect is not followed: Go would turn a POST into a GET that "succeeds"
		// without writing the note. classify reports it with its Location.
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		})).
		SetHeader("User-Agent", "cad-sidecar")
	for k, v := range c.Headers {
		r.SetHeader(k, v)
	}
	switch {
	case c.Auth.Bearer != "":
		r.SetHeader("Authorization", "Bearer "+c.Auth.Bearer)
	case c.Auth.Basic.Username != "":
		cred := c.Auth.Basic.Username + ":" + c.Auth.Basic.Password
		r.SetHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	cl := &client{r: r, base: strings.TrimRight(c.BaseURL, "/"), log: log, contentLevel: slog.LevelDebug, limit: newLimiter(c.RateLimit), m: m}
	if logContent {
		cl.contentLevel = slog.LevelInfo
	}
	switch a := c.Auth; {
	case a.OAuth2.TokenURL != "":
		cl.auth = newOAuth2(a.OAuth2, hc, m)
	case a.Login.Path != "":
		body, format, _ := parseLogin(a.Login) // checked by Validate
		cl.auth = &loginAuth{cl: cl, method: strings.ToUpper(a.Login.Method), path: a.Login.Path, body: body, contentType: a.Login.ContentType,
			username: a.Login.Username, secret: a.Login.Secret, tokenPath: a.Login.TokenPath, headerName: a.Login.Header, format: format, ttl: a.Login.TTL, now: time.Now, m: m}
	}
	return cl, nil
}

// url joins base_url and a rendered path (an absolute URL is used as it is).
func (c *client) url(path string) (string, error) {
	full := path
	if u, err := url.Parse(path); err != nil || !u.IsAbs() {
		if path != "" && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "?") {
			path = "/" + path
		}
		full = c.base + path
	}
	if _, err := url.ParseRequestURI(full); err != nil {
		return "", err
	}
	return full, nil
}

// response is the part of an answer the adapter uses.
type response struct {
	status int
	header http.Header
	body   []byte
	// authValue is the token header the request carried ("" = none of tokenAuth's).
	authValue string
}

// do sends one request, authenticated. A request that could not be built is a permanent
// error; one that got no answer is transient; an answer of any status is returned without
// error, for classify. With a token (OAuth2, login), a 401 drops the token and the request
// is sent once more with a new one.
func (c *client) do(ctx context.Context, method, path string, body []byte, header map[string]string) (response, error) {
	resp, err := c.send(ctx, method, path, body, header, c.auth)
	if err == nil && resp.status == http.StatusUnauthorized && c.auth != nil {
		c.log.Debug("cad request refused with 401: token renewed, request sent again", "method", method, "path", withoutQuery(path))
		c.auth.refused(resp.authValue)
		resp, err = c.send(ctx, method, path, body, header, c.auth)
	}
	return resp, err
}

// send sends one request, with auth's header when auth is not nil.
func (c *client) send(ctx context.Context, method, path string, body []byte, header map[string]string, auth tokenAuth) (response, error) {
	full, err := c.url(path)
	if err != nil {
		return response{}, delivery.Permanentf("rest: %s %s: bad URL: %w", method, withoutQuery(path), err)
	}
	path = withoutQuery(path) // errors and logs name the path, never the query
	req := c.r.R().SetContext(ctx).SetHeaders(header)
	if body != nil {
		req.SetBody(body)
	}
	var authValue string
	if auth != nil {
		name, v, err := auth.header(ctx)
		if err != nil {
			return response{}, err
		}
		req.SetHeader(name, v)
		authValue = v
	}
	release, err := c.limit.acquire(ctx)
	if err != nil {
		return response{}, delivery.Transient(err)
	}
	defer release()
	start := time.Now()
	resp, err := req.Execute(method, full)
	if err != nil {
		if resp != nil && resp.StatusCode() != 0 { // e.g. body too large: answered, but unusable
			return response{}, delivery.Transient(fmt.Errorf("rest: %s %s: %d: %w", method, path, resp.StatusCode(), err))
		}
		return response{}, delivery.Transient(fmt.Errorf("rest: %s %s: %w", method, path, err))
	}
	c.log.Debug("cad request", "method", method, "path", path, "status", resp.StatusCode(), "elapsed", time.Since(start))
	return response{status: resp.StatusCode(), header: resp.Header(), body: resp.Body(), authValue: authValue}, nil
}

// classify turns a non-2xx answer into an outbox error (see httpclass.Retryable) holding
// an *AnswerError; a 3xx is permanent and names where it pointed. The answer's body is
// logged at c.contentLevel, never in the error's text.
func (c *client) classify(ctx context.Context, method, path string, r response) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	e := &AnswerError{Method: method, Path: withoutQuery(path), Status: r.status, Size: len(r.body), evidence: oneLine(r.body, maxEvidence)}
	if r.status >= 300 && r.status < 400 {
		e.Location = r.header.Get("Location")
	}
	if e.evidence != "" {
		c.log.Log(ctx, c.contentLevel, "CAD answer body", "method", method, "path", e.Path, "status", r.status, "body", e.evidence)
	}
	return httpclass.Classify(r.status, r.header, e, time.Now())
}

// AnswerError is a non-2xx answer of the CAD. Its Error() names the request and the
// status but never the body: a CAD may echo the note it refused, and Error() goes into
// logs and /readyz. The body is the error's Evidence (for the dead letter).
type AnswerError struct {
	Method   string // GET, POST, ...
	Path     string // as rendered, without the query
	Status   int
	Size     int    // bytes of the answer's body
	Location string // of a 3xx
	evidence string
}

func (e *AnswerError) Error() string {
	msg := fmt.Sprintf("rest: %s %s: %d %s (%d-byte answer)", e.Method, ident.ForLog(e.Path), e.Status, http.StatusText(e.Status), e.Size)
	if e.Status >= 300 && e.Status < 400 {
		msg += fmt.Sprintf(": redirected to %q (redirects are not followed: check base_url)", e.Location)
	}
	return msg
}

// Evidence is up to maxEvidence bytes of the answer's body, on one line; it may quote
// caller data.
func (e *AnswerError) Evidence() string { return e.evidence }

// oneLine is at most limit bytes of b as valid UTF-8, whitespace runs folded to one space.
func oneLine(b []byte, limit int) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	cut := false
	if len(s) > limit {
		s, cut = s[:limit], true
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	if cut {
		s += "…"
	}
	return s
}

// withoutQuery is path without its query and fragment.
func withoutQuery(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		return path[:i]
	}
	return path
}

// restyLogger sends resty's own messages to slog at debug level: every failure it logs is
// also returned to the adapter, which reports it.
type restyLogger struct{ log *slog.Logger }

func (l restyLogger) Errorf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
func (l restyLogger) Warnf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
func (l restyLogger) Debugf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
