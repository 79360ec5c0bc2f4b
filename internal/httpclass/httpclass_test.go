package httpclass

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		delay      time.Duration
	}{
		{400, "", true, 0},
		{404, "", true, 0},
		{409, "", true, 0},
		{422, "5", true, 0}, // Retry-After means nothing on a permanent answer
		{302, "", true, 0},
		{401, "", false, 0},
		{403, "", false, 0},
		{408, "", false, 0},
		{429, "3", false, 3 * time.Second},
		{500, "", false, 0},
		{503, "7", false, 7 * time.Second},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), false, 90 * time.Second},
		{503, now.Add(-time.Minute).Format(http.TimeFormat), false, 0},
		{503, "soon", false, 0},
		{503, "0", false, 0},
		{503, "999999999", false, MaxRetryAfter},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.retryAfter != "" {
			h.Set("Retry-After", tt.retryAfter)
		}
		base := errors.New("answer")
		err := Classify(tt.status, h, base, now)
		if !errors.Is(err, base) {
			t.Errorf("%d: the cause is not wrapped", tt.status)
		}
		if delivery.IsPermanent(err) != tt.permanent {
			t.Errorf("%d %q: permanent=%v, want %v", tt.status, tt.retryAfter, delivery.IsPermanent(err), tt.permanent)
		}
		d, _ := delivery.RetryDelay(err)
		if d != tt.delay {
			t.Errorf("%d %q: delay %v, want %v", tt.status, tt.retryAfter, d, tt.delay)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
	} {
		if d, ok := RetryAfter(tc.v, now); d != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v %v, want %v %v", tc.v, d, ok, tc.want, tc.ok)
		}
	}
}
