package sidecar

import "net/http"

// The incident trace in the admin API (trace.go):
//
//	GET /api/v1/trace/{incident}   Trace; 404 {"error":"no trace for incident …"} when none
//
// The events still in memory are flushed first, so the answer is complete up to now.
func (s *Sidecar) traceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"trace/{incident}", s.apiTrace)
}

func (s *Sidecar) apiTrace(w http.ResponseWriter, r *http.Request) {
	s.trace.flush()
	tr, err := ReadTrace(s.store, r.PathValue("incident"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, tr)
}
