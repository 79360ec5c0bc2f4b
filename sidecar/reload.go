package sidecar

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// mapping is the mapping in use: the config's, or the last one Reload accepted.
func (s *Sidecar) mapping() *mapping.Mapper { return s.mapper.Load() }

// Reload reads the config file's `mapping:` section again (the mapping and the note
// templates), checks and compiles it, and swaps it in whole: the next record mapped and
// the next note rendered use it. A mapping that does not compile keeps the running one;
// each problem is logged at ERROR with its key and line, and the error returned lists
// them. mapping.input (encoding, CSV delimiter) is read by the source at start only.
func (s *Sidecar) Reload() error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	m, err := config.LoadMapping(s.cfg.File)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				s.log.Error("mapping reload refused; the running mapping is kept", "key", p.Key, "line", p.Source, "err", p.Msg)
			}
		} else {
			s.log.Error("mapping reload refused; the running mapping is kept", "file", s.cfg.File, "err", err)
		}
		return fmt.Errorf("reload the mapping of %s: %w", s.cfg.File, err)
	}
	s.unparsed.base.Add(s.mapping().UnparsedTimes())
	s.mapper.Store(m)
	for _, w := range m.Warnings() {
		s.log.Warn("mapping reloaded with a warning", "key", "mapping."+w.Key, "warning", w.Msg)
	}
	s.log.Info("mapping reloaded", "file", s.cfg.File)
	return nil
}

// ReloadResult is the answer of POST /api/v1/reload.
type ReloadResult struct {
	Reloaded bool `json:"reloaded"`
}

// apiReload is POST /api/v1/reload: Reload, answered 200 {"reloaded":true}, or 400 with
// the problems when the new mapping is refused (the running one is kept). Callers must be
// on the same host (loopback), or send the admin token (admin.token).
func (s *Sidecar) apiReload(w http.ResponseWriter, r *http.Request) {
	if !tokenAuthed(r) && !fromLoopback(r) { // the admin token replaces the loopback rule
		apiError(w, http.StatusForbidden, "reload is allowed from the sidecar's host only (loopback)")
		return
	}
	if err := s.Reload(); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	apiOK(w, ReloadResult{Reloaded: true})
}

// fromLoopback reports whether r came from a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
