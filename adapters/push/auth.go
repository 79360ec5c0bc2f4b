package push

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errUnauthorized is the class of every authentication failure (answered 401); the
// wrapped text says which check failed, without quoting what was sent.
var errUnauthorized = errors.New("unauthorized")

// checkToken compares the shared secret header with the configured token in constant
// time. Both are hashed first, so that not even the length of the token leaks through
// the time the comparison takes.
func checkToken(r *http.Request, a AuthConfig) error {
	got := r.Header.Get(a.Header)
	if got == "" {
		return fmt.Errorf("%w: no %s header", errUnauthorized, a.Header)
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.Token))
	if subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return fmt.Errorf("%w: wrong %s", errUnauthorized, a.Header)
	}
	return nil
}

// checkHMAC verifies the signature header, "sha256=" + hex(HMAC-SHA256(secret, timestamp
// + "." + body)), and that the timestamp is within the window of now. It returns the
// signature's bytes (the request's replay key) and the time it is signed for. The
// comparison is hmac.Equal (constant time).
func checkHMAC(r *http.Request, body []byte, h HMACConfig, now time.Time) ([]byte, time.Time, error) {
	ts := strings.TrimSpace(r.Header.Get(h.TimestampHeader))
	if ts == "" {
		return nil, time.Time{}, fmt.Errorf("%w: no %s header", errUnauthorized, h.TimestampHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s is not unix seconds", errUnauthorized, h.TimestampHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > h.Window || d < -h.Window {
		return nil, time.Time{}, fmt.Errorf("%w: %s is %s away from now, outside the window of %s", errUnauthorized,
			h.TimestampHeader, d.Abs().Round(time.Second), h.Window)
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get(h.Header)), "sha256=")
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: %s is not \"sha256=<hex>\"", errUnauthorized, h.Header)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s is not hex", errUnauthorized, h.Header)
	}
	want := Sign([]byte(h.Secret), ts, body)
	if !hmac.Equal(got, want) {
		return nil, time.Time{}, fmt.Errorf("%w: wrong signature in %s", errUnauthorized, h.Header)
	}
	return want, time.Unix(sec, 0), nil
}

// Sign is HMAC-SHA256(secret, timestamp + "." + body): what the CAD puts, hex-encoded
// after "sha256=", in the signature header.
func Sign(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}
