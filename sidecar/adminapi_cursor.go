package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The CAD poll cursor in the admin API (CursorInfo answers):
//
//	GET    /api/v1/cursor                                    the stored cursor
//	PUT    /api/v1/cursor  {"cursor":"VALUE","force":false}  set it (400 if in the future, unless force)
//	DELETE /api/v1/cursor                                    reset: the next poll starts from the start
//
// A change waits for a running poll to finish (so the poll cannot overwrite it) and clears
// the cad_cursor readiness state; the next poll judges the new cursor afresh. PUT and
// DELETE answer 403 to a client not on loopback (adminapi_local.go).
func (s *Sidecar) cursorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"cursor", s.apiGetCursor)
	mux.HandleFunc("PUT "+apiPrefix+"cursor", localOnly(s.apiSetCursor))
	mux.HandleFunc("DELETE "+apiPrefix+"cursor", localOnly(s.apiResetCursor))
}

// CursorRequest is the body of PUT /api/v1/cursor.
type CursorRequest struct {
	Cursor string `json:"cursor"`
	Force  bool   `json:"force"`
}

func (s *Sidecar) apiGetCursor(w http.ResponseWriter, r *http.Request) {
	info, err := ReadCursor(s.store, s.cfg.CAD.CursorTolerance)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, info)
}

func (s *Sidecar) apiSetCursor(w http.ResponseWriter, r *http.Request) {
	var req CursorRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.changeCursor(w, r, func() (CursorInfo, error) {
		return SetCursor(s.store, req.Cursor, req.Force, s.cfg.CAD.CursorTolerance)
	})
}

func (s *Sidecar) apiResetCursor(w http.ResponseWriter, r *http.Request) {
	s.changeCursor(w, r, func() (CursorInfo, error) { return ResetCursor(s.store, s.cfg.CAD.CursorTolerance) })
}

func (s *Sidecar) changeCursor(w http.ResponseWriter, r *http.Request, change func() (CursorInfo, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.lockPolling(ctx); err != nil {
		apiError(w, http.StatusServiceUnavailable, "a CAD poll is still running; try again: "+err.Error())
		return
	}
	defer s.polling.Unlock()
	info, err := change()
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.cursor.clear()
	s.log.Warn("CAD cursor changed by an operator", "cursor", info.Cursor, "previous", info.Previous)
	apiOK(w, info)
}

// lockPolling takes the poll lock (polls never overlap a cursor change), waiting for a
// running poll at most until ctx is done.
func (s *Sidecar) lockPolling(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !s.polling.TryLock() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the running poll: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
	return nil
}
