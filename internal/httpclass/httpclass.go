// Package httpclass decides what an HTTP failure means for delivery, once for every client
// of the sidecar (Assist, REST CADs): which answers are worth retrying, and how long the
// server asked us to wait. It speaks the delivery error vocabulary (package delivery).
package httpclass

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// MaxRetryAfter caps the delay taken from a Retry-After header, so that a misconfigured
// server cannot park a message for days.
const MaxRetryAfter = time.Hour

// Retryable reports whether a request answered with status is worth trying again: 408,
// 429 and 5xx, and also 401 and 403 — a revoked or mistyped credential is an operator's
// fix, after which every waiting message must still go through rather than sit in the
// dead letters.
func Retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return status >= 500
}

// Classify wraps err, the description of a non-2xx answer, in the delivery vocabulary:
// RetryAfter when the answer is retryable and says when, Transient when it is retryable,
// Permanent otherwise.
func Classify(status int, header http.Header, err error, now time.Time) error {
	if !Retryable(status) {
		return delivery.Permanent(err)
	}
	if d, ok := RetryAfter(header.Get("Retry-After"), now); ok {
		return delivery.RetryAfter(err, d)
	}
	return delivery.Transient(err)
}

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP-date. It reports false
// for an absent, unparsable or non-positive value; the delay is capped at MaxRetryAfter.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}
