// Package sim holds a simulated REST CAD (CAD) and a simulated Assist service (Assist),
// used by `cad-sidecar demo` and by end-to-end tests. Both are http.Handlers to mount on an
// httptest.Server or a real listener; all state is in memory and safe for concurrent use,
// the generated content is deterministic for a given seed (timestamps follow the clock),
// and the goroutines they run are owned: Start(ctx) starts them, Close stops them and
// waits. Inspection methods (Notes, Acked, ...) give tests their ground truth.
package sim

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds every request body the simulators read.
const maxBody = 1 << 20
