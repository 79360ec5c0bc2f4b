package outbox

import "errors"

// ErrFull is returned by Enqueue when the outbox has reached outbox.max_bytes: nothing was
// written, and the caller must refuse upstream (the webhook answers 503 + Retry-After).
var ErrFull = errors.New("outbox is full (outbox.max_bytes reached)")

// ErrClosed is returned by every Store method called after (or racing with) Close.
var ErrClosed = errors.New("outbox is closed")

// ErrNotFound is returned by Replay and Drop when no dead letter has that topic and seq.
var ErrNotFound = errors.New("outbox: not found")
