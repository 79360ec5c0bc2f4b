package sidecar

import (
	"net"
	"net/http"
	"net/netip"
)

// Without an admin token (admin.token), whatever changes the sidecar's state (dead letter
// replay and drop, cursor set and reset, outbox retry) or shows note text (content=1) is
// served only to a client on the sidecar's own host, and /metrics, /healthz, /readyz and
// listings without content stay open to the listener's clients. With a token, a request
// that carries it is served from any address (adminapi_auth.go).

// remoteRefusal is the 403 message for such a request from another host.
const remoteRefusal = "refused: this request changes the sidecar's state or shows note text, and the admin API " +
	"accepts it only from loopback (the sidecar's own host) while admin.token is not set; run the command there"

// isLoopback reports whether r comes from a loopback address.
func isLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// localOnly answers 403 to a request from another host, and lets h serve the others.
func localOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !refuseRemote(w, r) {
			h(w, r)
		}
	}
}

// refuseRemote answers 403 and returns true when r does not come from loopback and did not
// carry the admin token.
func refuseRemote(w http.ResponseWriter, r *http.Request) bool {
	if tokenAuthed(r) || isLoopback(r) {
		return false
	}
	apiError(w, http.StatusForbidden, remoteRefusal)
	return true
}
