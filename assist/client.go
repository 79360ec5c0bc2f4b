package assist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

// Defaults of ClientOptions.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultUserAgent = "cad-sidecar"
	// MaxResponseBody is the most bytes of an answer the client reads.
	MaxResponseBody = 4 << 20
)

// ClientOptions configures a Client.
type ClientOptions struct {
	BaseURL   string        // e.g. https://assist.example.com/realtime/v1 (absolute http/https)
	Token     string        // bearer token, sent on every request, never logged
	Timeout   time.Duration // per request; default 10s
	UserAgent string        // default "cad-sidecar"
	Logger    *slog.Logger  // default: discard

	// LogContent (log.content) logs the bodies of Assist's error answers — which may echo
	// the incident's fields — at info; without it they are logged at debug only.
	LogContent bool

	// WebhookSnakeCase makes RegisterWebhook send event_type/auth_token/target_url instead
	// of the schema's camelCase names (Assist's public page shows snake_case).
	WebhookSnakeCase bool

	// OnAnswer, when set, is called whenever Assist answered a request (any status).
	OnAnswer func()

	// Transport carries the requests (TLS roots, client certificate, proxy: see
	// internal/outbound); nil = a clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// Client calls the Assist API. It never retries: every failure comes back classified with
// the delivery vocabulary (delivery.Permanent, delivery.Transient, delivery.RetryAfter), and the
// outbox decides. Non-2xx answers carry an *HTTPError. A Client is safe for concurrent use.
type Client struct {
	rc        *resty.Client
	hc        *http.Client
	log       *slog.Logger
	snakeCase bool
	onAnswer  func()
	now       func() time.Time
	// contentLevel is the level of the log line with an error answer's body.
	contentLevel slog.Level
}

// NewClient checks o and returns a Client. BaseURL must be an absolute http or https URL
// without credentials, query or fragment.
func NewClient(o ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(o.BaseURL))
	if err != nil {
		return nil, fmt.Errorf("assist: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("assist: base URL %q: scheme must be http or https", o.BaseURL)
	case u.Host == "":
		return nil, fmt.Errorf("assist: base URL %q: no host", o.BaseURL)
	case u.User != nil:
		return nil, errors.New("assist: base URL must not contain credentials (use the token)")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("assist: base URL %q: no query or fragment allowed", o.BaseURL)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	hc := &http.Client{
		Transport: tr,
		// A redirect would turn a POST into a GET and may drop the Authorization header:
		// hand the 3xx back instead, where it becomes a permanent error naming the status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc := resty.NewWithClient(hc).
		SetBaseURL(strings.TrimRight(u.String(), "/")).
		SetTimeout(o.Timeout).
		SetRetryCount(0).
		SetResponseBodyLimit(MaxResponseBody).
		SetHeader("User-Agent", o.UserAgent).
		SetHeader("Accept", "application/json").
		SetLogger(restyLogger{log}).
		SetDebug(false)
	if o.Token != "" {
		rc.SetAuthToken(o.Token)
	}
	c := &Client{rc: rc, hc: hc, log: log, snakeCase: o.WebhookSnakeCase, onAnswer: o.OnAnswer, now: time.Now, contentLevel: slog.LevelDebug}
	if o.LogContent {
		c.contentLevel = slog.LevelInfo
	}
	return c, nil
}

// Close releases idle connections. The Client stays usable.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// LinkIncident links a CAD incident to the active Assist call (POST /cad/incident). An
// answer without callId is a transient error: Assist may not have an active call yet.
func (c *Client) LinkIncident(ctx context.Context, req LinkIncidentRequest) (LinkIncidentResponse, error) {
	const path = "/cad/incident"
	var out LinkIncidentResponse
	body, err := json.Marshal(req)
	if err != nil {
		return out, delivery.Permanent(fmt.Errorf("assist: POST %s: encoding request: %w", path, err))
	}
	raw, err := c.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, undecodable(http.MethodPost, path, err)
	}
	if out.CallID == "" {
		return out, delivery.Transient(fmt.Errorf("assist: POST %s: answer has no callId", path))
	}
	// The callId becomes a stored key, a URL path segment and a log attribute: the same
	// rule as for the ids of a webhook. Retried, as a missing one.
	if err := ident.Check("callId", out.CallID); err != nil {
		return LinkIncidentResponse{}, delivery.Transient(fmt.Errorf("assist: POST %s: answer's %w", path, err))
	}
	return out, nil
}

// RegisterWebhook registers the sidecar's webhook (POST /webhook/call). It sends camelCase
// (snake_case with ClientOptions.WebhookSnakeCase) and decodes answers in either spelling.
// An answer with error=true is an error quoting errorMessage: transient on a 2xx, and
// permanent on a 4xx like any other.
func (c *Client) RegisterWebhook(ctx context.Context, reg WebhookRegistration) (WebhookRegistrationResponse, error) {
	const path = "/webhook/call"
	var out WebhookRegistrationResponse
	var v any = reg
	if c.snakeCase {
		v = map[string]string{"event_type": reg.EventType, "auth_token": reg.AuthToken, "target_url": reg.TargetURL}
	}
	body, err := json.Marshal(v)
	if err != nil {
		return out, delivery.Permanent(fmt.Errorf("assist: POST %s: encoding request: %w", path, err))
	}
	raw, err := c.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return out, err
	}
	out, err = decodeRegistration(raw)
	if err != nil {
		return out, undecodable(http.MethodPost, path, err)
	}
	if out.Error {
		msg := out.ErrorMessage
		if msg == "" {
			msg = "no errorMessage"
		}
		c.log.Log(ctx, c.contentLevel, "assist refused the webhook registration", "path", path, "error_message", excerpt([]byte(msg)))
		return out, delivery.Transient(&refusedError{method: http.MethodPost, path: path, message: excerpt([]byte(msg))})
	}
	return out, nil
}

// Notes pulls the notes of a linked call created after cursor (GET
// /cad/incident/{callId}/notes[?cursor=C]; no cursor parameter when cursor is ""). When the
// answer carries no cursor, the page's Cursor is the one passed in, so that a caller storing
// page.Cursor never moves backwards.
func (c *Client) Notes(ctx context.Context, callID, cursor string) (NotesPage, error) {
	var page NotesPage
	if callID == "" || callID == "." || callID == ".." {
		return page, delivery.Permanent(fmt.Errorf("assist: notes: invalid callId %q", callID))
	}
	path := "/cad/incident/" + url.PathEscape(callID) + "/notes"
	var q url.Values
	if cursor != "" {
		q = url.Values{"cursor": {cursor}}
	}
	raw, err := c.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return page, err
	}
	var rawPage struct {
		Cursor string            `json:"cursor"`
		Notes  []json.RawMessage `json:"notes"`
	}
	if err := json.Unmarshal(raw, &rawPage); err != nil {
		return NotesPage{}, undecodable(http.MethodGet, path, err)
	}
	page.Cursor = rawPage.Cursor
	for i, rn := range rawPage.Notes {
		n, err := decodePulledNote(rn)
		if err != nil {
			page.Refused = append(page.Refused, RefusedNote{Index: i, Reason: fmt.Sprintf("note %d of the page: %v", i+1, err)})
			continue
		}
		page.Notes = append(page.Notes, n)
	}
	if page.Cursor == "" {
		page.Cursor = cursor
	}
	if page.Notes == nil {
		page.Notes = []IncidentNote{}
	}
	return page, nil
}

// decodePulledNote decodes one note of a pulled page. It refuses what the webhook refuses
// (invalid UTF-8, a noteId breaking the id rule) and anything that is not a note; the error
// quotes neither the id nor the text.
func decodePulledNote(raw json.RawMessage) (IncidentNote, error) {
	var n IncidentNote
	if !utf8.Valid(raw) {
		return n, errors.New("not valid UTF-8")
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return n, fmt.Errorf("not a note: %s where %v is expected (field %q)", te.Value, te.Type, te.Field)
		}
		return n, errors.New("not a note")
	}
	if n.NoteID != "" {
		if err := ident.Check("noteId", n.NoteID); err != nil {
			return n, err
		}
	}
	return n, nil
}

// do sends one request and returns the body of a 2xx answer, or a classified error.
// path is already escaped and relative to the base URL.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	r := c.rc.R().SetContext(ctx)
	if query != nil {
		r.SetQueryParamsFromValues(query)
	}
	if body != nil {
		r.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	start := time.Now()
	resp, err := r.Execute(method, path)
	var raw *http.Response
	if resp != nil {
		raw = resp.RawResponse
	}
	if err != nil && raw == nil {
		err = requestError(method, path, err)
		c.log.DebugContext(ctx, "assist request failed", "method", method, "path", path,
			"duration", time.Since(start), "err", err)
		return nil, err
	}
	status := raw.StatusCode
	if c.onAnswer != nil {
		c.onAnswer()
	}
	c.log.DebugContext(ctx, "assist request", "method", method, "path", path, "status", status,
		"duration", time.Since(start))
	tooLarge := errors.Is(err, resty.ErrResponseBodyTooLarge)
	if err != nil && !tooLarge {
		// The status line arrived but reading the body failed (connection cut): transient.
		return nil, requestError(method, path, err)
	}
	if status < 200 || status > 299 {
		if b := resp.Body(); len(b) > 0 {
			c.log.Log(ctx, c.contentLevel, "assist answer body", "method", method, "path", path, "status", status, "body", excerpt(b))
		}
		return nil, classifyStatus(method, path, raw, resp.Body(), c.now())
	}
	if tooLarge {
		return nil, delivery.Transient(fmt.Errorf("assist: %s %s: answer exceeds %d bytes", method, path, MaxResponseBody))
	}
	return resp.Body(), nil
}

// undecodable is the error for a 2xx answer whose body is not what the endpoint returns.
func undecodable(method, path string, err error) error {
	return delivery.Transient(fmt.Errorf("assist: %s %s: undecodable answer: %w", method, path, err))
}

// decodeRegistration decodes a WebhookRegistrationResponse written in camelCase or in
// snake_case (camelCase wins when both are present). The webhook id may be a string or a
// number.
func decodeRegistration(raw []byte) (WebhookRegistrationResponse, error) {
	var w struct {
		WebhookID      json.RawMessage `json:"webhookId"`
		WebhookIDSnake json.RawMessage `json:"webhook_id"`
		Error          json.RawMessage `json:"error"`
		ErrorMessage   *string         `json:"errorMessage"`
		ErrorMsgSnake  *string         `json:"error_message"`
	}
	var out WebhookRegistrationResponse
	if err := json.Unmarshal(raw, &w); err != nil {
		return out, err
	}
	id := w.WebhookID
	if len(id) == 0 || string(id) == "null" {
		id = w.WebhookIDSnake
	}
	if len(id) > 0 && string(id) != "null" {
		var s string
		var n json.Number
		if err := json.Unmarshal(id, &s); err == nil {
			out.WebhookID = s
		} else if err := json.Unmarshal(id, &n); err == nil {
			out.WebhookID = n.String()
		} else {
			return out, errors.New("webhookId: want a string or a number")
		}
	}
	switch {
	case w.ErrorMessage != nil:
		out.ErrorMessage = *w.ErrorMessage
	case w.ErrorMsgSnake != nil:
		out.ErrorMessage = *w.ErrorMsgSnake
	}
	// error is a bool in the schema; a string (a message) or null is tolerated.
	if len(w.Error) > 0 && string(w.Error) != "null" {
		var b bool
		var s string
		if err := json.Unmarshal(w.Error, &b); err == nil {
			out.Error = b
		} else if err := json.Unmarshal(w.Error, &s); err == nil {
			out.Error = s != "" && s != "false"
			if out.Error && out.ErrorMessage == "" && s != "true" {
				out.ErrorMessage = s
			}
		} else {
			return out, errors.New("error: want a bool")
		}
	}
	return out, nil
}

// restyLogger sends resty's own messages to slog. Debug output is off, so no header (and
// no token) ever reaches it.
type restyLogger struct{ l *slog.Logger }

func (r restyLogger) Errorf(format string, v ...any) {
	r.l.Error("resty: " + fmt.Sprintf(format, v...))
}
func (r restyLogger) Warnf(format string, v ...any) { r.l.Warn("resty: " + fmt.Sprintf(format, v...)) }
func (r restyLogger) Debugf(format string, v ...any) {
	r.l.Debug("resty: " + fmt.Sprintf(format, v...))
}
