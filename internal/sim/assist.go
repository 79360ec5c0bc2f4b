package sim

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// AssistOptions configure a simulated Assist.
type AssistOptions struct {
	Logger *slog.Logger
	// Token is the API token expected as "Authorization: Bearer <Token>" ("" = no check).
	Token string
	Seed  int64
	// NotesPerCall is the number of INFO notes a call produces before its CALL_COMPLETED
	// note (default 3).
	NotesPerCall int
	// NoteEvery is the time between two events of a call (default 500ms).
	NoteEvery time.Duration
	// SnakeCaseRegistration answers webhook registrations in snake_case (webhook_id,
	// error, error_message), as Assist's public page documents.
	SnakeCaseRegistration bool
	// PushRetryFor is how long a push that fails is retried before it is given up
	// (default 5m); PushRetryEvery the pause between tries (default 200ms); PushTimeout
	// bounds one try (default 5s).
	PushRetryFor   time.Duration
	PushRetryEvery time.Duration
	PushTimeout    time.Duration
	// DropCompletedEvery makes every Nth call (the Nth, 2Nth, …) produce no CALL_COMPLETED
	// note, neither pushed nor pulled — as when Assist loses it upstream; its summary is
	// still served by GET /call/{id}. 0 = never. DropCompletedFor does it for one incident.
	DropCompletedEvery int
	// WebhookDownEvery stops the pushes of every Nth call from its CALL_COMPLETED note on,
	// as if the receiving webhook went down as the call ended (WebhookDownAtEnd does it for
	// one incident). 0 = never.
	WebhookDownEvery int
}

// AckedNote is a note push that the receiver answered 2xx.
type AckedNote struct {
	CallID     string
	IncidentID string
	Note       assist.IncidentNote
}

// PushStats count webhook pushes.
type PushStats struct {
	Attempted int // HTTP requests sent (retries included)
	Failed    int // attempts that got no 2xx
	Delivered int // events answered 2xx
	Abandoned int // events given up after PushRetryFor
}

// Assist is a simulated Assist service:
//
//	POST /cad/incident                       LinkIncidentRequest → LinkIncidentResponse
//	POST /webhook/call                       WebhookRegistration → WebhookRegistrationResponse
//	GET  /cad/incident/{callId}/notes?cursor {"cursor","notes"}: the notes after cursor
//	GET  /call/{id}                          FullCallDto: summary and transcript (assist_call.go)
//
// All require the bearer token. The first link of an incident starts a call that, one
// NoteEvery apart, emits: CallStatus STARTED, an AssistantActivation, NotesPerCall INFO
// notes, a CALL_COMPLETED note and CallStatus ENDED. Notes are kept for pull; events are
// pushed to the webhooks registered when they happen, in order per call, each retried
// until acknowledged or PushRetryFor has passed.
type Assist struct {
	o      AssistOptions
	log    *slog.Logger
	mux    *http.ServeMux
	client *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	calls         map[string]*simCall // by call id
	byIncident    map[string]*simCall
	lastLink      map[string]assist.LinkIncidentRequest
	linkCount     int
	hooks         []hook
	registrations int
	acked         []AckedNote
	stats         PushStats
	running       int // calls whose script or pushes are not finished
	pulls         map[string]*PullCount
	calling       callState // GET /call/{id}: assist_call.go
}

// PullCount counts the answers of GET /cad/incident/{callId}/notes for one call.
type PullCount struct {
	Requests int            // answered 200
	Served   map[string]int // note id → how many answers carried it
}

type simCall struct {
	id, incidentID string
	notes          []assist.IncidentNote // generated so far, NoteID set
	full           fullCall              // what GET /call/{id} serves (assist_call.go)
}

// NewAssist returns a simulated Assist. Its calls run until Close (or the ctx given to
// Start ends), whether or not Start was called.
func NewAssist(o AssistOptions) *Assist {
	if o.NotesPerCall <= 0 {
		o.NotesPerCall = 3
	}
	if o.NoteEvery <= 0 {
		o.NoteEvery = 500 * time.Millisecond
	}
	if o.PushRetryFor <= 0 {
		o.PushRetryFor = 5 * time.Minute
	}
	if o.PushRetryEvery <= 0 {
		o.PushRetryEvery = 200 * time.Millisecond
	}
	if o.PushTimeout <= 0 {
		o.PushTimeout = 5 * time.Second
	}
	a := &Assist{
		o:          o,
		log:        orDiscard(o.Logger).With("sim", "assist"),
		client:     &http.Client{Timeout: o.PushTimeout},
		calls:      map[string]*simCall{},
		byIncident: map[string]*simCall{},
		lastLink:   map[string]assist.LinkIncidentRequest{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("POST /cad/incident", a.link)
	a.mux.HandleFunc("POST /webhook/call", a.register)
	a.mux.HandleFunc("GET /cad/incident/{callId}/notes", a.pull)
	a.mux.HandleFunc("GET /call/{id}", a.getCall)
	return a
}

// Start ties the simulator's goroutines to ctx: when ctx ends, they stop.
func (a *Assist) Start(ctx context.Context) {
	stop := context.AfterFunc(ctx, a.cancel)
	context.AfterFunc(a.ctx, func() { stop() })
}

// Close stops every call script and push and waits for them. New links then get 503.
func (a *Assist) Close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// ServeHTTP serves the Assist API.
func (a *Assist) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := a.o.Token; t != "" {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+t)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": true, "errorMessage": "invalid or missing bearer token"})
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

func (a *Assist) link(w http.ResponseWriter, r *http.Request) {
	var req assist.LinkIncidentRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		http.Error(w, "body is not a LinkIncidentRequest: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.IncidentID == "" {
		http.Error(w, "incidentId is required", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	a.linkCount++
	a.lastLink[req.IncidentID] = req
	c, ok := a.byIncident[req.IncidentID]
	if !ok {
		n := len(a.calls) + 1
		rng := rand.New(rand.NewPCG(uint64(a.o.Seed), uint64(n)))
		c = &simCall{id: guid(rng), incidentID: req.IncidentID}
		a.newFullCall(c, n)
		a.calls[c.id] = c
		a.byIncident[req.IncidentID] = c
		a.running++
		a.startCall(c, rng)
	}
	a.mu.Unlock()
	a.log.Debug("incident linked", "incident", req.IncidentID, "call", c.id, "relink", ok)
	writeJSON(w, http.StatusOK, assist.LinkIncidentResponse{IncidentID: req.IncidentID, CallID: c.id})
}

func guid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (a *Assist) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		EventType  string `json:"eventType"`
		AuthToken  string `json:"authToken"`
		TargetURL  string `json:"targetUrl"`
		EventTypeS string `json:"event_type"`
		AuthTokenS string `json:"auth_token"`
		TargetURLS string `json:"target_url"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		a.registered(w, http.StatusBadRequest, "", "body is not a WebhookRegistration: "+err.Error())
		return
	}
	h := hook{
		target: first(in.TargetURL, in.TargetURLS),
		token:  first(in.AuthToken, in.AuthTokenS),
		events: first(in.EventType, in.EventTypeS),
	}
	if u, err := url.Parse(h.target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		a.registered(w, http.StatusBadRequest, "", fmt.Sprintf("targetUrl %q is not an absolute http(s) URL", h.target))
		return
	}
	h.kinds = parseEventTypes(h.events)
	a.mu.Lock()
	a.registrations++
	i := slices.IndexFunc(a.hooks, func(x hook) bool { return x.target == h.target })
	if i >= 0 { // re-registering a target updates it
		h.id = a.hooks[i].id
		a.hooks[i] = h
	} else {
		h.id = "wh-" + strconv.Itoa(len(a.hooks)+1)
		a.hooks = append(a.hooks, h)
	}
	a.mu.Unlock()
	a.log.Debug("webhook registered", "target", h.target, "events", h.events, "id", h.id)
	a.registered(w, http.StatusOK, h.id, "")
}

func (a *Assist) registered(w http.ResponseWriter, status int, id, msg string) {
	if a.o.SnakeCaseRegistration {
		writeJSON(w, status, map[string]any{"webhook_id": id, "error": msg != "", "error_message": msg})
		return
	}
	writeJSON(w, status, assist.WebhookRegistrationResponse{WebhookID: id, Error: msg != "", ErrorMessage: msg})
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (a *Assist) pull(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	c, ok := a.calls[r.PathValue("callId")]
	var notes []assist.IncidentNote
	if ok {
		notes = slices.Clone(c.notes)
	}
	a.mu.Unlock()
	if !ok {
		http.Error(w, "no such call", http.StatusNotFound)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < -1 {
			http.Error(w, fmt.Sprintf("cursor %q is not one this server returned", cursor), http.StatusBadRequest)
			return
		}
		start = min(n+1, len(notes))
	}
	page := assist.NotesPage{Cursor: cursor, Notes: notes[start:]}
	if len(page.Notes) > 0 {
		page.Cursor = strconv.Itoa(len(notes) - 1) // index of the last note returned
	}
	if page.Notes == nil {
		page.Notes = []assist.IncidentNote{}
	}
	a.countPull(r.PathValue("callId"), page.Notes)
	writeJSON(w, http.StatusOK, page)
}

func (a *Assist) countPull(callID string, served []assist.IncidentNote) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pulls == nil {
		a.pulls = map[string]*PullCount{}
	}
	pc := a.pulls[callID]
	if pc == nil {
		pc = &PullCount{Served: map[string]int{}}
		a.pulls[callID] = pc
	}
	pc.Requests++
	for _, n := range served {
		pc.Served[n.NoteID]++
	}
}

// Pulls returns a copy of the pull counts of a call (counted before the answer is
// written, so a client that has its answer sees it counted).
func (a *Assist) Pulls(callID string) PullCount {
	a.mu.Lock()
	defer a.mu.Unlock()
	pc := PullCount{Served: map[string]int{}}
	if p := a.pulls[callID]; p != nil {
		pc.Requests = p.Requests
		for id, n := range p.Served {
			pc.Served[id] = n
		}
	}
	return pc
}

// NotesFor returns the notes generated so far for an incident's call, in order (with the
// NoteID a pull gives them; pushed notes carry none).
func (a *Assist) NotesFor(incidentID string) []assist.IncidentNote {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.byIncident[incidentID]; ok {
		return slices.Clone(c.notes)
	}
	return nil
}

// Links maps each linked incident to its call id.
func (a *Assist) Links() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]string, len(a.byIncident))
	for id, c := range a.byIncident {
		m[id] = c.id
	}
	return m
}

// LastLink returns the latest LinkIncidentRequest received for an incident.
func (a *Assist) LastLink(incidentID string) (assist.LinkIncidentRequest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.lastLink[incidentID]
	return r, ok
}

// LinkCount is the number of distinct incidents linked (each has one call).
func (a *Assist) LinkCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byIncident)
}

// LinkRequests is the number of link requests accepted, re-links included.
func (a *Assist) LinkRequests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.linkCount
}

// Registrations is the number of webhook registrations accepted (re-registrations
// of the same targetUrl included).
func (a *Assist) Registrations() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registrations
}

// Webhooks maps each registered targetUrl to its webhook id.
func (a *Assist) Webhooks() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]string{}
	for _, h := range a.hooks {
		m[h.target] = h.id
	}
	return m
}

// Acked returns the note pushes answered 2xx, in the order they were acknowledged.
func (a *Assist) Acked() []AckedNote {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.acked)
}

// PushStats returns the push counters.
func (a *Assist) PushStats() PushStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Pending is the number of calls whose events are not all generated and pushed (or given
// up) yet: 0 means the simulator is idle.
func (a *Assist) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// parseEventTypes reads a registration's eventType: "*" (or "") means every event, else
// a pipe-delimited list whose entries are matched loosely ("IncidentNote", "note",
// "CALL_STATUS", "assistant_activation", ...). A list naming nothing known means every event.
func parseEventTypes(s string) eventKind {
	var k eventKind
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }) {
		t = strings.NewReplacer("_", "", "-", "", " ", "", ".", "").Replace(strings.ToLower(t))
		switch {
		case t == "*":
			return allEvents
		case strings.Contains(t, "note"):
			k |= eventNote
		case strings.Contains(t, "status"):
			k |= eventStatus
		case strings.Contains(t, "assistant"), strings.Contains(t, "activation"):
			k |= eventActivation
		}
	}
	if k == 0 {
		return allEvents
	}
	return k
}
