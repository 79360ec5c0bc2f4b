package sidecar

import "net/http"

// Status and links in the admin API:
//
//	GET /api/v1/status                          Status
//	GET /api/v1/links?limit=&after=&incident=   LinkPage (sorted by incident id)
func (s *Sidecar) statusRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"status", s.apiStatus)
	mux.HandleFunc("GET "+apiPrefix+"links", s.apiLinks)
}

func (s *Sidecar) apiStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status()
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, st)
}

func (s *Sidecar) apiLinks(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.trace.flush()
	q := r.URL.Query()
	page, err := ListLinks(s.store, LinkQuery{Incident: q.Get("incident"), After: q.Get("after"), Limit: limit})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, page)
}

// queryLimit reads limit= (0 when absent; an explicit 0 is refused).
func queryLimit(r *http.Request) (int, error) {
	limit, err := queryInt(r, "limit")
	if err == nil && r.URL.Query().Has("limit") && limit <= 0 {
		err = inputErrorf("bad limit %d: want a positive number", limit)
	}
	return limit, err
}
