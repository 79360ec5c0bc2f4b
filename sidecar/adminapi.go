package sidecar

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The admin API: JSON under /api/v1/ on the admin listener. Each area registers its routes
// in its own file (adminapi_<area>.go) through adminAPI; the helpers here give every
// endpoint the same error shape, {"error": "<what is wrong>"}, with 400 for bad input,
// 404 for an unknown id, 503 when the store is closed and 500 otherwise.

// apiPrefix starts every admin API path.
const apiPrefix = "/api/v1/"

// maxAPIBody bounds a request body of the admin API.
const maxAPIBody = 64 << 10

// adminAPI registers the admin API's routes on mux.
func (s *Sidecar) adminAPI(mux *http.ServeMux) {
	s.deadLetterRoutes(mux)
	s.statusRoutes(mux)
	s.outboxRoutes(mux)
	s.traceRoutes(mux)
	s.cursorRoutes(mux)
	s.backupRoutes(mux) // adminapi_backup.go
	s.historyRoutes(mux)
	s.mapRoutes(mux)
	mux.HandleFunc("POST "+apiPrefix+"reload", s.apiReload)
	mux.HandleFunc(apiPrefix, func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
}

// APIError is the body of every admin API error answer.
type APIError struct {
	Error string `json:"error"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, APIError{Error: msg})
}

// apiFail answers err with the status its kind calls for.
func (s *Sidecar) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	var in *InputError
	switch {
	case errors.As(err, &in):
		apiError(w, http.StatusBadRequest, in.Msg)
	case errors.Is(err, outbox.ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, outbox.ErrClosed):
		apiError(w, http.StatusServiceUnavailable, "the sidecar is stopping")
	default:
		s.log.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		apiError(w, http.StatusInternalServerError, err.Error())
	}
}

// apiOK answers v with 200.
func apiOK(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}

// listParams are a listing's query parameters: ?topic=&after=&limit=&content=1.
type listParams struct {
	topic, after string
	limit        int
	content      bool
}

// readListParams reads a listing's query parameters, the limit with readLimit. When one is bad,
// or content is asked by a client that may not see it (refuseRemote), it answers the request
// itself and returns false.
func (s *Sidecar) readListParams(w http.ResponseWriter, r *http.Request, readLimit func(*http.Request) (int, error)) (listParams, bool) {
	limit, err := readLimit(r)
	content, err2 := queryBool(r, "content")
	if err == nil {
		err = err2
	}
	if err != nil {
		s.apiFail(w, r, err)
		return listParams{}, false
	}
	if content && refuseRemote(w, r) {
		return listParams{}, false
	}
	q := r.URL.Query()
	return listParams{topic: q.Get("topic"), after: q.Get("after"), limit: limit, content: content}, true
}

// queryInt reads an optional whole-number query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, inputErrorf("bad %s %q: want a whole number", name, v)
	}
	return n, nil
}

// queryBool reads an optional flag query parameter: 1/true/yes are true.
func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	default:
		return false, inputErrorf("bad %s %q: want 1 or 0", name, v)
	}
}

// decodeBody decodes a JSON request body into v (unknown fields refused).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return inputErrorf("bad request body: %v", err)
	}
	return nil
}
