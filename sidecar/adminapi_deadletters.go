package sidecar

import "net/http"

// Dead letters in the admin API:
//
//	GET    /api/v1/deadletters?topic=&limit=&after=&content=1  a page (DeadLetterPage)
//	GET    /api/v1/deadletters/{id}?content=1                  one (DeadLetterView)
//	POST   /api/v1/deadletters/{id}/replay                     {"replayed":{"note":1}}
//	POST   /api/v1/deadletters/replay?topic=                   {"replayed":{"link":0,"note":3}}
//	DELETE /api/v1/deadletters/{id}                            {"dropped":"note-42"}
//
// Replay, drop and content=1 answer 403 to a client not on loopback (adminapi_local.go).
func (s *Sidecar) deadLetterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"deadletters", s.apiListDeadLetters)
	mux.HandleFunc("GET "+apiPrefix+"deadletters/{id}", s.apiGetDeadLetter)
	mux.HandleFunc("POST "+apiPrefix+"deadletters/{id}/replay", localOnly(s.apiReplayDeadLetter))
	mux.HandleFunc("POST "+apiPrefix+"deadletters/replay", localOnly(s.apiReplayAllDeadLetters))
	mux.HandleFunc("DELETE "+apiPrefix+"deadletters/{id}", localOnly(s.apiDropDeadLetter))
}

func (s *Sidecar) apiListDeadLetters(w http.ResponseWriter, r *http.Request) {
	p, ok := s.readListParams(w, r, deadLetterLimit)
	if !ok {
		return
	}
	page, err := ListDeadLetters(s.store, DeadLetterQuery{Topic: p.topic, After: p.after, Limit: p.limit, Content: p.content})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, page)
}

// deadLetterLimit reads the listing's optional limit; an explicit 0 is refused (a negative
// or too large one is refused by ListDeadLetters).
func deadLetterLimit(r *http.Request) (int, error) {
	limit, err := queryInt(r, "limit")
	if err == nil && r.URL.Query().Has("limit") && limit == 0 {
		err = inputErrorf("bad limit 0: want 1 to %d", MaxDeadLetterLimit)
	}
	return limit, err
}

func (s *Sidecar) apiGetDeadLetter(w http.ResponseWriter, r *http.Request) {
	content, err := queryBool(r, "content")
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if content && refuseRemote(w, r) {
		return
	}
	v, err := GetDeadLetter(s.store, r.PathValue("id"), content)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, v)
}

func (s *Sidecar) apiReplayDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := GetDeadLetter(s.store, id, false)
	if err == nil {
		err = ReplayDeadLetter(s.store, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.log.Info("dead letter replayed by an operator", "id", id, "incident_id", v.IncidentID)
	s.traceDeadLetter(traceReplayed, v)
	apiOK(w, map[string]any{"replayed": map[string]int{v.Topic: 1}})
}

func (s *Sidecar) apiReplayAllDeadLetters(w http.ResponseWriter, r *http.Request) {
	before := s.deadLettersToTrace(r.URL.Query().Get("topic"))
	n, err := ReplayDeadLetters(s.store, r.URL.Query().Get("topic"))
	for _, v := range before {
		s.traceDeadLetter(traceReplayed, v)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.log.Info("dead letters replayed by an operator", "replayed", n)
	apiOK(w, map[string]any{"replayed": n})
}

func (s *Sidecar) apiDropDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := GetDeadLetter(s.store, id, false)
	if err == nil {
		err = DropDeadLetter(s.store, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.log.Info("dead letter dropped by an operator", "id", id, "incident_id", v.IncidentID)
	s.traceDeadLetter(traceDropped, v)
	apiOK(w, map[string]string{"dropped": id})
}
