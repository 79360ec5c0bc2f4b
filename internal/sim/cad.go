package sim

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CADOptions configure a simulated CAD.
type CADOptions struct {
	Logger *slog.Logger
	Seed   int64
	// NewIncidentEvery is how often Start's generator creates an incident (0 = never).
	NewIncidentEvery time.Duration
	// ChangeEvery is how often the generator changes an open incident (0 = never).
	ChangeEvery time.Duration
	// APIKey, when set, must be sent as X-Api-Key (or Authorization: Bearer); else 401.
	APIKey string
	// DedupByKey makes the CAD honour the Idempotency-Key header, as some CADs do: a note
	// whose key it already has is answered 200 and not stored again (see Duplicates).
	// Without it every write is stored, duplicates included, each with its key (CADNote.Key).
	DedupByKey bool
	// RefuseNotesContaining, when set, makes POST .../notes answer 503 (no Retry-After) for
	// every note whose text contains it, while other notes are stored: a CAD that refuses
	// one note. SetRefuseNotes changes it while running.
	RefuseNotesContaining string
	// LoseAnswerEvery, when > 0, stores every n-th note write and then answers it 503, as a
	// CAD that commits and times out before answering: the sender must write it again, with
	// the same Idempotency-Key (see LostAnswers).
	LoseAnswerEvery int
}

// CADIncident is an incident record as the simulated CAD serves it.
type CADIncident struct {
	IncidentNumber int64       `json:"IncidentNumber"`
	Status         string      `json:"Status"` // OPEN | DISPATCHED | CLOSED
	Nature         CADNature   `json:"Nature"`
	Loc            CADLocation `json:"Loc"`
	Pri            string      `json:"Pri"` // "1".."3"
	CallTaker      CADUser     `json:"CallTaker"`
	Updated        int64       `json:"updated"` // change sequence number: the poll cursor
}

// CADNature is an incident's nature code.
type CADNature struct {
	Code        string `json:"Code"`
	Description string `json:"Description"`
}

// CADLocation is an incident's address.
type CADLocation struct {
	Number string `json:"Number"`
	Street string `json:"Street"`
	City   string `json:"City"`
}

// CADUser is a CAD user.
type CADUser struct {
	ID string `json:"Id"`
}

// CADNote is a note written into the simulated CAD.
type CADNote struct {
	Text     string    `json:"text"`
	Critical bool      `json:"critical"`
	Key      string    `json:"key,omitempty"` // the Idempotency-Key header, if sent
	At       time.Time `json:"at"`
}

// CAD is a simulated REST CAD:
//
//	GET  /api/incidents?since=N       {"data":[records with updated > N, oldest change first]}
//	GET  /api/incidents/{id}          one record
//	POST /api/incidents/{id}/notes    JSON object with "text" (and "critical") → 201; 404 unknown;
//	                                  503 for a text with the RefuseNotesContaining marker
//	GET  /api/incidents/{id}/notes    {"notes":[CADNote...]}
type CAD struct {
	o   CADOptions
	log *slog.Logger
	mux *http.ServeMux

	down      atomic.Bool
	noteDelay atomic.Int64
	// answerDelay: SetAnswerDelay.
	answerDelay atomic.Int64
	forbid      sync.Map                      // incident id → reason: its notes are refused for good (422)
	hold        atomic.Pointer[chan struct{}] // HoldNotes: closed by its release
	held        atomic.Int64                  // note writes waiting in HoldNotes
	refuse      atomic.Pointer[string]
	refused     atomic.Int64

	mu        sync.Mutex
	rng       *rand.Rand
	seq       int64 // last "updated" value handed out
	next      int64 // next incident number
	incidents map[string]*CADIncident
	order     []string
	notes     map[string][]CADNote
	noteCount int
	keys      map[string]bool // Idempotency-Keys stored (DedupByKey)
	dups      int
	writes    int // note writes stored (LoseAnswerEvery counts these)
	lost      int // stored writes answered 503 (LoseAnswerEvery)

	run    sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewCAD returns a CAD with no incidents.
func NewCAD(o CADOptions) *CAD {
	c := &CAD{
		o:         o,
		log:       orDiscard(o.Logger).With("sim", "cad"),
		rng:       rand.New(rand.NewPCG(uint64(o.Seed), 0xCAD)),
		next:      260045123,
		incidents: map[string]*CADIncident{},
		notes:     map[string][]CADNote{},
	}
	c.SetRefuseNotes(o.RefuseNotesContaining)
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET /api/incidents", c.list)
	c.mux.HandleFunc("GET /api/incidents/{id}", c.get)
	c.mux.HandleFunc("POST /api/incidents/{id}/notes", c.postNote)
	c.mux.HandleFunc("GET /api/incidents/{id}/notes", c.getNotes)
	return c
}

// Start runs the incident generator until ctx ends or Close is called. A second Start is a
// no-op.
func (c *CAD) Start(ctx context.Context) {
	c.run.Lock()
	defer c.run.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	every := func(d time.Duration, f func()) {
		if d <= 0 {
			return
		}
		c.wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f()
				}
			}
		})
	}
	every(c.o.NewIncidentEvery, func() { c.AddIncident() })
	every(c.o.ChangeEvery, c.changeOne)
}

// Close stops the generator and waits for it. The handler keeps serving.
func (c *CAD) Close() {
	c.run.Lock()
	if c.cancel == nil {
		c.cancel = func() {} // a later Start does nothing
	}
	c.cancel()
	c.run.Unlock()
	c.wg.Wait()
}

var (
	natures = []CADNature{
		{"FIRE", "Structure fire"}, {"MED", "Medical emergency"}, {"TC", "Traffic collision"},
		{"BURG", "Burglary"}, {"GAS", "Gas leak"}, {"ALARM", "Fire alarm"}, {"WELF", "Welfare check"},
	}
	streets = []string{"Main St", "Oak Ave", "Elm St", "Maple Dr", "Evergreen Terrace", "Industrial Way", "River Rd"}
)

// AddIncident creates an OPEN incident now and returns its id (its IncidentNumber).
func (c *CAD) AddIncident() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	inc := &CADIncident{
		IncidentNumber: c.next,
		Status:         "OPEN",
		Nature:         natures[c.rng.IntN(len(natures))],
		Loc:            CADLocation{Number: strconv.Itoa(100 * (1 + c.rng.IntN(40))), Street: streets[c.rng.IntN(len(streets))], City: "Springfield"},
		Pri:            strconv.Itoa(1 + c.rng.IntN(3)),
		CallTaker:      CADUser{ID: fmt.Sprintf("ct%03d", 1+c.rng.IntN(60))},
		Updated:        c.seq,
	}
	c.next += int64(1 + c.rng.IntN(3))
	id := strconv.FormatInt(inc.IncidentNumber, 10)
	c.incidents[id] = inc
	c.order = append(c.order, id)
	c.log.Debug("incident created", "incident", id, "nature", inc.Nature.Code)
	return id
}

// AddIncidentWithoutNature creates an incident whose nature code is empty — a record a
// mapping that requires Nature.Code refuses — and returns its id.
func (c *CAD) AddIncidentWithoutNature() string {
	id := c.AddIncident()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.incidents[id].Nature = CADNature{}
	return id
}

// RefuseNotesFor makes POST .../notes for incident id answer 422 with reason as the body,
// for good: a CAD that will never take that incident's notes (a closed record, say).
func (c *CAD) RefuseNotesFor(id, reason string) { c.forbid.Store(id, reason) }

// AllowNotesFor undoes RefuseNotesFor: incident id's notes are taken again (a record
// unlocked, say).
func (c *CAD) AllowNotesFor(id string) { c.forbid.Delete(id) }

// UpdateIncident changes one field of an incident (status OPEN → DISPATCHED → CLOSED, or
// the priority) and bumps its updated sequence. It reports whether the incident exists.
func (c *CAD) UpdateIncident(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc, ok := c.incidents[id]
	if !ok {
		return false
	}
	c.update(inc)
	return true
}

func (c *CAD) update(inc *CADIncident) {
	switch {
	case inc.Status == "OPEN":
		inc.Status = "DISPATCHED"
	case inc.Status == "DISPATCHED" && c.rng.IntN(2) == 0:
		inc.Status = "CLOSED"
	default:
		pri, _ := strconv.Atoi(inc.Pri)
		inc.Pri = strconv.Itoa(pri%3 + 1)
	}
	c.seq++
	inc.Updated = c.seq
}

// changeOne updates a random incident that is not closed.
func (c *CAD) changeOne() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var open []*CADIncident
	for _, id := range c.order {
		if inc := c.incidents[id]; inc.Status != "CLOSED" {
			open = append(open, inc)
		}
	}
	if len(open) > 0 {
		c.update(open[c.rng.IntN(len(open))])
	}
}

// SetDown makes every endpoint answer 503 with Retry-After: 1 (true) or serve again (false).
func (c *CAD) SetDown(down bool) { c.down.Store(down) }

// SetRefuseNotes makes POST .../notes answer 503 for notes whose text contains marker
// ("" = refuse none); see CADOptions.RefuseNotesContaining.
func (c *CAD) SetRefuseNotes(marker string) { c.refuse.Store(&marker) }

// Refused is the number of note writes answered 503 because of SetRefuseNotes.
func (c *CAD) Refused() int { return int(c.refused.Load()) }

// SetNoteDelay makes POST .../notes wait d before storing and answering.
func (c *CAD) SetNoteDelay(d time.Duration) { c.noteDelay.Store(int64(d)) }

// SetAnswerDelay makes POST .../notes wait d after storing a note before answering, as a
// CAD that commits and then answers slowly: a sender stopped meanwhile never learns that
// the note was stored (the wait ends early when the request is cancelled; the note stays).
func (c *CAD) SetAnswerDelay(d time.Duration) { c.answerDelay.Store(int64(d)) }

// HoldNotes makes POST .../notes wait, before storing and answering, until release is
// called (or the request ends): a CAD that is slow to answer, under the test's control.
// Held counts the writes waiting.
func (c *CAD) HoldNotes() (release func()) {
	ch := make(chan struct{})
	c.hold.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.hold.CompareAndSwap(&ch, nil)
			close(ch)
		})
	}
}

// Held is the number of note writes waiting in HoldNotes.
func (c *CAD) Held() int { return int(c.held.Load()) }

// Incidents lists the incident ids in creation order.
func (c *CAD) Incidents() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// Incident returns a copy of one incident.
func (c *CAD) Incident(id string) (CADIncident, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc, ok := c.incidents[id]
	if !ok {
		return CADIncident{}, false
	}
	return *inc, true
}

// Notes returns the notes written into an incident, in arrival order.
func (c *CAD) Notes(incidentID string) []CADNote {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.notes[incidentID])
}

// Duplicates is the number of notes refused as duplicates by Idempotency-Key (DedupByKey).
func (c *CAD) Duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups
}

// LostAnswers is the number of note writes stored but answered 503 (LoseAnswerEvery).
func (c *CAD) LostAnswers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// NoteCount is the number of notes written into all incidents.
func (c *CAD) NoteCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noteCount
}

// ServeHTTP serves the CAD API.
func (c *CAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.down.Load() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "CAD is down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if k := c.o.APIKey; k != "" {
		got := r.Header.Get("X-Api-Key")
		if got == "" {
			got, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(k)) != 1 {
			http.Error(w, "invalid API key", http.StatusUnauthorized)
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

func (c *CAD) list(w http.ResponseWriter, r *http.Request) {
	var since int64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			http.Error(w, fmt.Sprintf("since: %q is not a number", s), http.StatusBadRequest)
			return
		}
		since = n
	}
	c.mu.Lock()
	data := []CADIncident{}
	for _, id := range c.order {
		if inc := c.incidents[id]; inc.Updated > since {
			data = append(data, *inc)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(data, func(a, b CADIncident) int { return cmp.Compare(a.Updated, b.Updated) })
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (c *CAD) get(w http.ResponseWriter, r *http.Request) {
	inc, ok := c.Incident(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such incident", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (c *CAD) postNote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil || body == nil {
		http.Error(w, "body must be a JSON object", http.StatusBadRequest)
		return
	}
	if h := c.hold.Load(); h != nil {
		c.held.Add(1)
		select {
		case <-*h:
		case <-r.Context().Done():
		}
		c.held.Add(-1)
		if r.Context().Err() != nil {
			return
		}
	}
	if d := time.Duration(c.noteDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if reason, ok := c.forbid.Load(id); ok {
		http.Error(w, reason.(string), http.StatusUnprocessableEntity)
		return
	}
	text, _ := body["text"].(string)
	critical, _ := body["critical"].(bool)
	if m := *c.refuse.Load(); m != "" && strings.Contains(text, m) {
		c.refused.Add(1)
		c.log.Debug("note refused", "incident", id)
		http.Error(w, "note refused", http.StatusServiceUnavailable)
		return
	}
	c.mu.Lock()
	if _, ok := c.incidents[id]; !ok {
		c.mu.Unlock()
		http.Error(w, "no such incident", http.StatusNotFound)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if c.o.DedupByKey && key != "" {
		if c.keys[id+"\x00"+key] {
			c.dups++
			c.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"incident": id, "duplicate": true})
			return
		}
		if c.keys == nil {
			c.keys = map[string]bool{}
		}
		c.keys[id+"\x00"+key] = true
	}
	c.notes[id] = append(c.notes[id], CADNote{Text: text, Critical: critical, Key: key, At: time.Now()})
	c.noteCount++
	n := len(c.notes[id])
	c.writes++
	lose := c.o.LoseAnswerEvery > 0 && c.writes%c.o.LoseAnswerEvery == 0
	if lose {
		c.lost++
	}
	c.mu.Unlock()
	if d := time.Duration(c.answerDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			c.log.Debug("note stored, the sender gave up before the answer", "incident", id, "n", n)
			return
		}
	}
	if lose {
		c.log.Debug("note stored, answer lost", "incident", id, "n", n)
		http.Error(w, "note stored, but the answer timed out", http.StatusServiceUnavailable)
		return
	}
	c.log.Debug("note stored", "incident", id, "n", n)
	writeJSON(w, http.StatusCreated, map[string]any{"incident": id, "note": n})
}

func (c *CAD) getNotes(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := c.Incident(id); !ok {
		http.Error(w, "no such incident", http.StatusNotFound)
		return
	}
	notes := c.Notes(id)
	if notes == nil {
		notes = []CADNote{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"notes": notes})
}
