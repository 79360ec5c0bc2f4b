package assist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/httpclass"
)

// MaxRetryAfter caps the delay taken from a Retry-After header.
const MaxRetryAfter = httpclass.MaxRetryAfter

// maxExcerpt is the most bytes of a response body quoted in an error message.
const maxExcerpt = 200

// HTTPError is a non-2xx answer from Assist. The client returns it wrapped in the outbox
// vocabulary (delivery.Permanent, delivery.Transient or delivery.RetryAfter); errors.As gets it
// back for callers that need the status code. It never holds request body contents.
//
// Error() names the request, the status and the answer's size, never the answer: Assist
// may echo what it refused (the incident's fields), and Error() goes into logs and
// /readyz. Message and Body are the error's Evidence (for dead letters and debug logs).
type HTTPError struct {
	Method     string // GET, POST
	Path       string // relative to the base URL, escaped, without the query string
	StatusCode int    // e.g. 503
	Status     string // e.g. "503 Service Unavailable"
	Size       int    // bytes of the answer's body
	Message    string // the answer's errorMessage / error_message, when it had one
	Body       string // at most 200 bytes of the response body, control characters blanked
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("assist: %s %s: HTTP %s (%d-byte answer)", e.Method, e.Path, e.Status, e.Size)
}

// Evidence is what Assist answered: its error message, else the start of the body. It may
// quote caller data.
func (e *HTTPError) Evidence() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Body
}

// refusedError is a 2xx answer that says error=true (a refused webhook registration). Like
// HTTPError it keeps the answer's message out of Error().
type refusedError struct {
	method, path, message string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("assist: %s %s: refused (answer with error=true, %d-byte errorMessage)", e.method, e.path, len(e.message))
}

func (e *refusedError) Evidence() string { return e.message }

// classifyStatus turns a non-2xx answer into an outbox error: 408, 429 and 5xx are
// transient (with the server's Retry-After, if any), and so are 401 and 403: a revoked or
// mistyped token is an operator's fix, after which every waiting message must still go
// through, not sit in the dead letters. Everything else is permanent.
func classifyStatus(method, path string, resp *http.Response, body []byte, now time.Time) error {
	he := &HTTPError{
		Method:     method,
		Path:       path,
		StatusCode: resp.StatusCode,
		Status:     statusText(resp),
		Size:       len(body),
		Message:    errorMessageOf(body),
		Body:       excerpt(body),
	}
	return httpclass.Classify(resp.StatusCode, resp.Header, he, now)
}

// statusText is resp.Status, or the code and its standard text when the server sent none.
func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
}

// excerpt returns at most maxExcerpt bytes of body as valid UTF-8 on one line.
func excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// requestError wraps a failure to get any answer (network, time-out, cancelled context).
// It is always transient: the request may not even have reached Assist.
func requestError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the url.Error text repeats the full URL; we name the path ourselves
	}
	what := "request failed"
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		what = "request timed out"
	}
	return delivery.Transient(fmt.Errorf("assist: %s %s: %s: %w", method, path, what, err))
}

// errorMessageOf extracts a short error text from a JSON error body: errorMessage,
// error_message, message, or error when it is a string. It returns "" otherwise.
func errorMessageOf(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	for _, k := range []string{"errorMessage", "error_message", "message", "error"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return excerpt([]byte(s))
		}
	}
	return ""
}
