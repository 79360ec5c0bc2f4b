// Package delivery is the vocabulary of delivery failures that every handler of a queued
// message speaks — CAD sinks, the Assist client, the HTTP classifier — and that the outbox
// reads to decide between retrying and dead-lettering. It sits below all of them and
// imports nothing of the project, so neither the adapters nor the Assist client depend on
// the storage package for it.
package delivery

import (
	"errors"
	"fmt"
	"time"
)

// The delivery error vocabulary. A handler (sink, Assist client) returns one of these so the
// outbox knows what to do without matching strings:
//
//   - Permanent: the message can never succeed (4xx, mapping error) → dead letters at once.
//   - Transient: try again later with capped exponential backoff and jitter.
//   - RetryAfter: transient, and the destination said when (HTTP 429/503 Retry-After).
//
// An error that is none of these is treated as transient.

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type transientError struct {
	err   error
	after time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// Transient marks err as one worth retrying with the usual backoff.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err}
}

// RetryAfter marks err as transient with a delay the destination asked for.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err, after: d}
}

// IsPermanent reports whether err (or one it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryDelay returns the delay requested through RetryAfter, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var t *transientError
	if errors.As(err, &t) && t.after > 0 {
		return t.after, true
	}
	return 0, false
}
