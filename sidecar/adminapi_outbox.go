package sidecar

import "net/http"

// The outbox in the admin API:
//
//	GET  /api/v1/outbox?topic=&limit=&after=&content=1   a page of pending messages (OutboxPage)
//	POST /api/v1/outbox/retry  {} | {"topic":"note","key":"INC-1"}
//	                                                      {"retried":{"link":0,"note":2}}
//
// content=1 (payloads: note text) and retry are served to loopback, or to any address
// with the admin token (adminapi_local.go).
func (s *Sidecar) outboxRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"outbox", s.apiListOutbox)
	mux.HandleFunc("POST "+apiPrefix+"outbox/retry", localOnly(s.apiRetryOutbox))
}

func (s *Sidecar) apiListOutbox(w http.ResponseWriter, r *http.Request) {
	p, ok := s.readListParams(w, r, queryLimit)
	if !ok {
		return
	}
	page, err := ListOutbox(s.store, OutboxQuery{Topic: p.topic, After: p.after, Limit: p.limit, Content: p.content})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, page)
}

func (s *Sidecar) apiRetryOutbox(w http.ResponseWriter, r *http.Request) {
	var req RetryRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	n, err := RetryOutbox(s.store, req)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.log.Info("outbox retry now by an operator", "topic", req.Topic, "incident_id", req.Key, "retried", n)
	apiOK(w, map[string]any{"retried": n})
}
