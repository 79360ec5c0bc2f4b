package eido

import (
	"testing"
	"time"
)

// TestBackoff: doubling from initial, capped at max, with up to half of it jitter.
func TestBackoff(t *testing.T) {
	r := ReconnectConfig{Initial: time.Second, Max: 10 * time.Second}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		for range 20 {
			if d := backoff(r, n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
	if d := backoff(r, 1000); d > r.Max {
		t.Fatalf("backoff(1000) = %s beyond max", d)
	}
}
