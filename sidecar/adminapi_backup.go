package sidecar

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// BackupStoreIDHeader carries the store id of the backup GET /api/v1/backup streams.
const BackupStoreIDHeader = "X-Cad-Sidecar-Store-Id"

// backupRoutes registers GET /api/v1/backup: a consistent copy of the data file, streamed
// from one read transaction of the running store (outbox.Store.Backup) while the sidecar
// goes on writing. The copy holds every note and link; it is served like every request
// that changes state or shows note text (localOnly). `cad-sidecar backup --to FILE` calls it.
func (s *Sidecar) backupRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"backup", localOnly(s.apiBackup))
}

func (s *Sidecar) apiBackup(w http.ResponseWriter, r *http.Request) {
	// A large file takes longer than the listener's write timeout: lift it for this answer.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	started := false
	n, err := s.store.Backup(w, func(i outbox.BackupInfo) {
		started = true
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", `attachment; filename="sidecar.db"`)
		h.Set("Content-Length", strconv.FormatInt(i.Size, 10))
		h.Set("Cache-Control", "no-store")
		h.Set(BackupStoreIDHeader, i.StoreID)
		w.WriteHeader(http.StatusOK)
	})
	switch {
	case err == nil:
		s.log.Info("backup streamed through the admin API", "bytes", n, "remote", r.RemoteAddr)
	case !started:
		s.apiFail(w, r, err)
	default: // cut short: the client sees fewer bytes than Content-Length
		s.log.Warn("backup through the admin API cut short", "bytes", n, "err", err)
	}
}
