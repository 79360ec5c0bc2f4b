package outbox

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestMaxBytesBoundary pins the budget's edge: Enqueue is refused with ErrFull once the
// pending payload bytes have reached MaxBytes (not only once they are past it), and
// accepted one byte below, whatever the size of the new message.
func TestMaxBytesBoundary(t *testing.T) {
	const limit = 100
	for _, tc := range []struct {
		name     string
		pending  int // payload bytes already queued
		wantFull bool
	}{
		{name: "one byte below", pending: limit - 1},
		{name: "exactly at the limit", pending: limit, wantFull: true},
		{name: "past the limit", pending: limit + 1, wantFull: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, dbPath(t), Options{MaxBytes: limit})
			enqueue(t, s, TopicNote, "a", strings.Repeat("x", tc.pending))
			if got := stats(t, s).PendingBytes; got != int64(tc.pending) {
				t.Fatalf("PendingBytes %d, want %d", got, tc.pending)
			}
			ok, err := s.Enqueue(context.Background(), TopicNote, "b", []byte("y"), "idem-b")
			switch {
			case tc.wantFull && (!errors.Is(err, ErrFull) || ok):
				t.Fatalf("Enqueue with %d of %d bytes pending = %v, %v; want ErrFull", tc.pending, limit, ok, err)
			case !tc.wantFull && (err != nil || !ok):
				t.Fatalf("Enqueue with %d of %d bytes pending = %v, %v; want accepted", tc.pending, limit, ok, err)
			}
		})
	}
}
