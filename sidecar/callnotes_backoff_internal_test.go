package sidecar

import (
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// A call whose notes the outbox keeps refusing (full, no space) is tried again later and
// later — each try fetches the call from Assist again — not every second for ever; and a
// call that settles forgets its count.
func TestCallNotesQueueFailuresBackOff(t *testing.T) {
	cfg := config.Default()
	cfg.Outbox.Retry = config.RetryConfig{Initial: time.Second, Max: time.Minute}
	r := newCallNoteRunner(&Sidecar{cfg: &cfg})
	var waits []time.Duration
	for range 6 {
		before := r.now()
		r.retrySoon("call-1")
		waits = append(waits, r.next["call-1"].Sub(before))
	}
	// Jitter is ±20 %: the 6th wait (32 s nominal) is well above the 1st (1 s nominal).
	if waits[5] < 20*time.Second {
		t.Fatalf("waits after repeated queue failures %v: want them to grow toward outbox.retry.max", waits)
	}
	if waits[0] > 2*time.Second {
		t.Fatalf("first wait %v, want about outbox.retry.initial (1s)", waits[0])
	}
	r.retrySoon("call-2")
	if w := r.next["call-2"].Sub(r.now()); w > 2*time.Second {
		t.Fatalf("another call's first wait %v: counts are per call", w)
	}
}
