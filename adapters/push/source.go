package push

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Source is the push Source: an http.Handler on cad.push.path that hands each
// authenticated request's records to the host while Run runs.
type Source struct {
	cfg      *Config
	log      *slog.Logger
	now      func() time.Time
	requests *prometheus.CounterVec

	mu   sync.Mutex // one emit at a time (adapters.Emit), and the fields below
	emit adapters.Emit
	ctx  context.Context      // Run's: an emit is not cut short by a client that hangs up
	seen map[string]time.Time // signatures taken → when their timestamp leaves the window
	// pruned is when seen was last pruned.
	pruned time.Time
}

// New builds the Source and mounts it on the public listener (when the host gives
// Deps.Mount; tests call ServeHTTP directly).
func New(c *Config, deps adapters.Deps) (*Source, error) {
	s := &Source{
		cfg: c,
		log: deps.Log().With("adapter", Name),
		now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_push_requests_total",
			Help: "Requests the CAD pushed to cad.push.path, by result (ok, duplicate, unauthorized, too_large, bad_request, refused, unavailable, method).",
		}, []string{"result"}),
		seen: map[string]time.Time{},
	}
	if err := deps.Metrics().Register(s.requests); err != nil {
		return nil, fmt.Errorf("push: register metrics: %w", err)
	}
	if deps.Mount != nil {
		if err := deps.Mount(c.Path, s); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
	}
	return s, nil
}

// Run serves pushes until ctx is done. It first emits an empty batch, so that the host
// counts the source as read (readiness) before the CAD's first push: a sidecar behind a
// load balancer that waits for readiness would otherwise never be pushed to.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error {
	s.mu.Lock()
	if err := emit(ctx, adapters.Batch{}); err != nil && ctx.Err() == nil {
		s.log.Warn("push: the first (empty) batch failed", "err", err)
	}
	s.emit, s.ctx = emit, ctx
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.emit, s.ctx = nil, nil
	s.mu.Unlock()
	return nil
}

// running reports whether Run runs (requests are answered 503 before and after).
func (s *Source) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emit != nil
}

// answer is the JSON body of every answer.
type answer struct {
	Records int    `json:"records,omitempty"`
	Status  string `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ServeHTTP takes one push: POST only; authenticated (401); at most max_body (413);
// decodable into records the mapping takes (400); 200 once the host stored the records'
// links; 503 with Retry-After while the source is not running or the store fails.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reply(w, r, http.StatusMethodNotAllowed, "method", answer{Error: "POST only"}, nil)
		return
	}
	if !s.running() {
		w.Header().Set("Retry-After", "1")
		s.reply(w, r, http.StatusServiceUnavailable, "unavailable", answer{Error: "not running yet"}, nil)
		return
	}
	a := s.cfg.Auth
	if a.Token != "" {
		if err := checkToken(r, a); err != nil {
			s.reply(w, r, http.StatusUnauthorized, "unauthorized", answer{Error: "unauthorized"}, err)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBody)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.reply(w, r, http.StatusRequestEntityTooLarge, "too_large",
				answer{Error: fmt.Sprintf("body larger than cad.push.max_body (%s)", s.cfg.MaxBody)}, err)
			return
		}
		s.reply(w, r, http.StatusBadRequest, "bad_request", answer{Error: "body could not be read"}, err)
		return
	}
	var replayKey string
	var stale time.Time // when the signature's timestamp leaves the window
	if a.HMAC.Secret != "" {
		sig, at, err := checkHMAC(r, body, a.HMAC, s.now())
		if err != nil {
			s.reply(w, r, http.StatusUnauthorized, "unauthorized", answer{Error: "unauthorized"}, err)
			return
		}
		replayKey, stale = hex.EncodeToString(sig), at.Add(a.HMAC.Window)
	}
	recs, err := decode(body, s.cfg)
	if err != nil {
		s.reply(w, r, http.StatusBadRequest, "bad_request", answer{Error: err.Error()}, err)
		return
	}
	s.take(w, r, recs, replayKey, stale)
}

// take emits recs as one AllOrNothing batch and answers. A request whose signature was
// already taken within the window (a replay, or the CAD sending again an answer it did
// not get) is answered 200 "duplicate" and not emitted again.
func (s *Source) take(w http.ResponseWriter, r *http.Request, recs []adapters.Record, replayKey string, stale time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emit == nil {
		w.Header().Set("Retry-After", "1")
		s.reply(w, r, http.StatusServiceUnavailable, "unavailable", answer{Error: "not running yet"}, nil)
		return
	}
	now := s.now()
	s.pruneSeen(now)
	if _, dup := s.seen[replayKey]; replayKey != "" && dup {
		s.reply(w, r, http.StatusOK, "duplicate", answer{Records: len(recs), Status: "duplicate"}, nil)
		return
	}
	if len(recs) == 0 {
		s.reply(w, r, http.StatusOK, "ok", answer{Status: "stored"}, nil)
		return
	}
	err := s.emit(s.ctx, adapters.Batch{Records: recs, AllOrNothing: true})
	var refused *adapters.Refused
	switch {
	case errors.As(err, &refused):
		s.reply(w, r, http.StatusBadRequest, "refused", answer{Error: refused.Error()}, err, refusedIDs(refused)...)
		return
	case err != nil:
		w.Header().Set("Retry-After", "5")
		s.reply(w, r, http.StatusServiceUnavailable, "unavailable", answer{Error: "not stored; send again"}, err)
		return
	}
	if replayKey != "" {
		s.seen[replayKey] = stale
	}
	s.reply(w, r, http.StatusOK, "ok", answer{Records: len(recs), Status: "stored"}, nil)
}

// pruneSeen forgets the signatures whose timestamp left the window (a replay of one is
// refused as stale by then); at most once per tenth of the window, so that a busy CAD
// does not pay a scan per request.
func (s *Source) pruneSeen(now time.Time) {
	if now.Sub(s.pruned) < s.cfg.Auth.HMAC.Window/10 {
		return
	}
	s.pruned = now
	for k, stale := range s.seen {
		if now.After(stale) {
			delete(s.seen, k)
		}
	}
}

// refusedIDs are the incident ids of the refused records, as log attributes.
func refusedIDs(r *adapters.Refused) []any {
	for _, rec := range r.Records {
		if rec.IncidentID != "" {
			return []any{"incident_id", rec.IncidentID}
		}
	}
	return nil
}

// reply writes the answer, counts it and logs a refusal (never the body).
func (s *Source) reply(w http.ResponseWriter, r *http.Request, code int, result string, a answer, err error, attrs ...any) {
	s.requests.WithLabelValues(result).Inc()
	if err != nil {
		s.log.Warn("push refused", append([]any{"status", code, "remote", r.RemoteAddr, "err", err}, attrs...)...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}
