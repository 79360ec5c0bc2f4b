package sidecar

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestReloadLoopbackOnly: POST /api/v1/reload from another host is refused with 403
// before anything is read (the admin API has no token yet); loopback callers are let through.
func TestReloadLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"127.0.0.1:5000", true},
		{"[::1]:5000", true},
		{"192.0.2.7:5000", false},
		{"[2001:db8::1]:5000", false},
		{"garbage", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/reload", nil)
		r.RemoteAddr = tc.remote
		if got := fromLoopback(r); got != tc.want {
			t.Errorf("fromLoopback(%s) = %v, want %v", tc.remote, got, tc.want)
		}
		if tc.want {
			continue
		}
		w := httptest.NewRecorder()
		(&Sidecar{}).apiReload(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("POST /api/v1/reload from %s: %d, want 403", tc.remote, w.Code)
		}
	}
}
