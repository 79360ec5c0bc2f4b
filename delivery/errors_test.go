package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassification(t *testing.T) {
	base := errors.New("cad said no")
	tests := []struct {
		name      string
		err       error
		permanent bool
		delay     time.Duration
		hasDelay  bool
	}{
		{"plain is transient", base, false, 0, false},
		{"permanent", Permanent(base), true, 0, false},
		{"permanentf wraps", Permanentf("write: %w", base), true, 0, false},
		{"wrapped permanent", fmt.Errorf("incident 7: %w", Permanent(base)), true, 0, false},
		{"transient", Transient(base), false, 0, false},
		{"retry after", RetryAfter(base, 3*time.Second), false, 3 * time.Second, true},
		{"wrapped retry after", fmt.Errorf("x: %w", RetryAfter(base, time.Minute)), false, time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tc.permanent)
			}
			d, ok := RetryDelay(tc.err)
			if ok != tc.hasDelay || d != tc.delay {
				t.Errorf("RetryDelay = %v, %v; want %v, %v", d, ok, tc.delay, tc.hasDelay)
			}
			if !errors.Is(tc.err, base) {
				t.Errorf("the cause is lost: %v", tc.err)
			}
			if tc.err.Error() == "" {
				t.Errorf("Error() = %q", tc.err.Error())
			}
		})
	}
	if Permanent(nil) != nil || Transient(nil) != nil || RetryAfter(nil, time.Second) != nil {
		t.Error("marking nil must stay nil")
	}
}
