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

	"github.com/cad-sidecar/cad-sidecar/internal/httpclass"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// maxResponseBytes bounds what the adapter reads of any answer.
const maxResponseBytes = 64 << 20

// maxErrorBody is how much of an error answer goes into the error message.
const maxErrorBody = 200

// client sends the adapter's requests; resty does no retries, the outbox does.
type client struct {
	r    *resty.Client
	base string // base_url without its trailing slash
	log  *slog.Logger
}

func newClient(c *Config, log *slog.Logger) *client {
	r := resty.New().
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
	return &client{r: r, base: strings.TrimRight(c.BaseURL, "/"), log: log}
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
}

// do sends one request. A request that could not be built is a permanent error; one that
// got no answer is transient; an answer of any status is returned without error, for
// classify.
func (c *client) do(ctx context.Context, method, path string, body []byte, header map[string]string) (response, error) {
	full, err := c.url(path)
	if err != nil {
		return response{}, outbox.Permanentf("rest: %s %s: bad URL: %v", method, path, err)
	}
	req := c.r.R().SetContext(ctx).SetHeaders(header)
	if body != nil {
		req.SetBody(body)
	}
	start := time.Now()
	resp, err := req.Execute(method, full)
	if err != nil {
		if resp != nil && resp.StatusCode() != 0 { // e.g. body too large: answered, but unusable
			return response{}, outbox.Transient(fmt.Errorf("rest: %s %s: %d: %w", method, path, resp.StatusCode(), err))
		}
		return response{}, outbox.Transient(fmt.Errorf("rest: %s %s: %w", method, path, err))
	}
	c.log.Debug("cad request", "method", method, "path", path, "status", resp.StatusCode(), "elapsed", time.Since(start))
	return response{status: resp.StatusCode(), header: resp.Header(), body: resp.Body()}, nil
}

// classify turns a non-2xx answer into an outbox error (see httpclass.Retryable); a 3xx is
// permanent and names where it pointed.
func classify(method, path string, r response) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	detail := bodySnippet(r.body)
	if r.status >= 300 && r.status < 400 {
		detail = fmt.Sprintf(": redirected to %q (redirects are not followed: check base_url)", r.header.Get("Location"))
	}
	err := fmt.Errorf("rest: %s %s: %d %s%s", method, path, r.status, http.StatusText(r.status), detail)
	return httpclass.Classify(r.status, r.header, err, time.Now())
}

// bodySnippet is ": " + at most maxErrorBody bytes of body, on one line.
func bodySnippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > maxErrorBody {
		s = strings.ToValidUTF8(s[:maxErrorBody], "") + "…"
	}
	return ": " + strings.Join(strings.Fields(s), " ")
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
