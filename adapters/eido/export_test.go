package eido

import "time"

// SetKeepalive shortens the keepalive pings for a test; restore puts them back.
func SetKeepalive(every, timeout time.Duration) (restore func()) {
	e, to := pingEvery, pingTimeout
	pingEvery, pingTimeout = every, timeout
	return func() { pingEvery, pingTimeout = e, to }
}
