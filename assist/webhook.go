package assist

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// DefaultMaxBody is the default ReceiverOptions.MaxBody.
const DefaultMaxBody = 1 << 20

// FullRetryAfter is the Retry-After (seconds) sent with a 503 when the outbox (or the
// disk) is full.
const FullRetryAfter = "30"

// ReceiverOptions configures a Receiver.
type ReceiverOptions struct {
	AuthToken string       // the authToken registered with Assist; required
	MaxBody   int64        // largest accepted body; default 1 MiB
	Logger    *slog.Logger // default: discard

	// Handle stores the event durably; the receiver answers 2xx only after it returns nil.
	// It decides about duplicates (a duplicate is a success). Returning an error wrapping
	// outbox.ErrFull or outbox.ErrNoSpace (disk full) answers 503 with Retry-After; any
	// other error answers 500. Handle runs
	// with the request's values but is not cancelled when Assist hangs up: an event that
	// reached us is stored even if the answer can no longer be delivered.
	Handle func(ctx context.Context, ev Event) error

	// OnRefused, if set, is called with the status of every refused request (4xx, 5xx),
	// e.g. to count them by code: a wrong Assist auth token shows as 401s.
	OnRefused func(status int)
}

// Receiver is the http.Handler for Assist's webhook POSTs (POST /webhookhandler/cad).
type Receiver struct {
	digest  [sha256.Size]byte // of the auth token
	max     int64
	log     *slog.Logger
	handle  func(context.Context, Event) error
	refused func(status int)
	stats   struct {
		accepted, unauthorized, tooLarge, badRequest, full, failed, badMethod atomic.Uint64
	}
}

// ReceiverStats counts requests by outcome since the Receiver was made.
type ReceiverStats struct {
	Accepted         uint64 // 200: Handle returned nil
	Unauthorized     uint64 // 401
	TooLarge         uint64 // 413
	BadRequest       uint64 // 400: unreadable body, malformed JSON, invalid event
	Full             uint64 // 503: Handle returned outbox.ErrFull or outbox.ErrNoSpace
	Error            uint64 // 500: Handle returned another error
	MethodNotAllowed uint64 // 405
}

// NewReceiver checks o and returns a Receiver.
func NewReceiver(o ReceiverOptions) (*Receiver, error) {
	if o.AuthToken == "" {
		return nil, errors.New("assist: webhook receiver needs an auth token")
	}
	if o.Handle == nil {
		return nil, errors.New("assist: webhook receiver needs a Handle function")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receiver{
		digest:  sha256.Sum256([]byte(o.AuthToken)),
		max:     o.MaxBody,
		log:     o.Logger,
		handle:  o.Handle,
		refused: o.OnRefused,
	}, nil
}

// Stats returns the request counts by outcome.
func (r *Receiver) Stats() ReceiverStats {
	s := &r.stats
	return ReceiverStats{
		Accepted:         s.accepted.Load(),
		Unauthorized:     s.unauthorized.Load(),
		TooLarge:         s.tooLarge.Load(),
		BadRequest:       s.badRequest.Load(),
		Full:             s.full.Load(),
		Error:            s.failed.Load(),
		MethodNotAllowed: s.badMethod.Load(),
	}
}

// ServeHTTP accepts one webhook event: 405 for a method other than POST, 401 for a wrong
// or missing Authorization (the raw token or "Bearer <token>"), 413 for a body over
// MaxBody, 400 for a body that is not a valid event, then Handle: 200 {"status":"ok"} when
// it returns nil, 503 + Retry-After when the outbox is full, 500 otherwise.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		r.stats.badMethod.Add(1)
		w.Header().Set("Allow", http.MethodPost)
		r.reply(w, http.StatusMethodNotAllowed, errorBody("method not allowed"))
		return
	}
	if !r.authorized(req.Header.Get("Authorization")) {
		r.stats.unauthorized.Add(1)
		r.log.DebugContext(ctx, "webhook unauthorized", "remote", req.RemoteAddr)
		w.Header().Set("WWW-Authenticate", "Bearer")
		r.reply(w, http.StatusUnauthorized, errorBody("unauthorized"))
		return
	}
	if req.ContentLength > r.max {
		r.tooLarge(ctx, w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			r.tooLarge(ctx, w)
			return
		}
		r.stats.badRequest.Add(1)
		r.log.DebugContext(ctx, "webhook body unreadable", "err", err)
		r.reply(w, http.StatusBadRequest, errorBody("could not read body"))
		return
	}
	ev, err := DecodeEvent(body)
	if err != nil {
		r.stats.badRequest.Add(1)
		msg := strings.TrimPrefix(err.Error(), ErrInvalidEvent.Error()+": ")
		r.log.DebugContext(ctx, "webhook rejected", "status", http.StatusBadRequest, "reason", msg)
		r.reply(w, http.StatusBadRequest, errorBody(msg))
		return
	}
	if err := r.handle(context.WithoutCancel(ctx), ev); err != nil {
		if errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrNoSpace) {
			r.stats.full.Add(1)
			why := "outbox full"
			if errors.Is(err, outbox.ErrNoSpace) {
				why = "disk full"
			}
			r.log.WarnContext(ctx, "webhook refused: "+why, "kind", ev.Kind.String(), "call_id", ev.CallID())
			w.Header().Set("Retry-After", FullRetryAfter)
			r.reply(w, http.StatusServiceUnavailable, errorBody(why+", retry later"))
			return
		}
		r.stats.failed.Add(1)
		r.log.ErrorContext(ctx, "webhook event not stored", "kind", ev.Kind.String(), "call_id", ev.CallID(), "err", err)
		r.reply(w, http.StatusInternalServerError, errorBody("event not stored"))
		return
	}
	r.stats.accepted.Add(1)
	r.log.DebugContext(ctx, "webhook accepted", "kind", ev.Kind.String(), "call_id", ev.CallID(), "status", http.StatusOK)
	r.reply(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// authorized compares the Authorization header with the token in constant time, over
// SHA-256 digests so that the token's length does not leak either. The raw token and
// "Bearer <token>" are accepted; both candidates are always compared.
func (r *Receiver) authorized(h string) bool {
	if h == "" {
		return false
	}
	raw := sha256.Sum256([]byte(h))
	bearer := raw
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		bearer = sha256.Sum256([]byte(strings.TrimSpace(h[7:])))
	}
	ok := subtle.ConstantTimeCompare(raw[:], r.digest[:]) | subtle.ConstantTimeCompare(bearer[:], r.digest[:])
	return ok == 1
}

func (r *Receiver) tooLarge(ctx context.Context, w http.ResponseWriter) {
	r.stats.tooLarge.Add(1)
	r.log.DebugContext(ctx, "webhook body too large", "limit", r.max)
	r.reply(w, http.StatusRequestEntityTooLarge, errorBody("body too large"))
}

func (r *Receiver) reply(w http.ResponseWriter, status int, body []byte) {
	if status >= 400 && r.refused != nil {
		r.refused(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is {"error": msg} with msg JSON-escaped.
func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}
