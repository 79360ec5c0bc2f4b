package sidecar

import "net/http"

// closeOnRefusal makes every 4xx answer of h end its connection (Connection: close), so a
// client that is refused — unauthenticated, a bad or oversized body, a wrong path — does not
// keep one of the public listener's server.max_conns slots as an idle keep-alive
// connection. net/http does the same for its own 431. Accepted requests and 5xx answers
// (Assist retries those) keep the connection.
func closeOnRefusal(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&refusalWriter{ResponseWriter: w}, r)
	})
}

// refusalWriter adds Connection: close to a 4xx answer before its header is written.
type refusalWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *refusalWriter) WriteHeader(code int) {
	if !w.wrote && code >= 400 && code < 500 {
		w.Header().Set("Connection", "close")
	}
	w.wrote = w.wrote || code >= 200
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
