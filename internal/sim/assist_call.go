package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// GET /call/{id}: the simulated Assist keeps, for every call, the FullCallDto a real one
// would answer — an AI summary (title, nature, location, severity, hazards, caller …) and
// a transcript (caller and call-taker segments with time offsets, some in Spanish with an
// English translation; each final segment is preceded by a partial, non-final one). The
// content is chosen from a few scenarios by the call's number and the seed. callStatus is
// STARTED until the script's CallStatus ENDED event, then ENDED.
//
// Tests steer it per incident, before the incident is linked: DropCompletedFor (no
// CALL_COMPLETED note for its call) and FailCall (GET /call answers a status).

// fullCall is what GET /call/{id} serves for one call; guarded by Assist.mu.
type fullCall struct {
	n             int // the call's number, 1-based
	created       time.Time
	summary       assist.CallSummary
	segments      []assist.CallSegmentDto
	ended         bool
	dropCompleted bool
	webhookDown   bool // pushes of the call stopped (WebhookDownAtEnd)
}

// callState is the per-incident steering and the GET /call counts; guarded by Assist.mu.
type callState struct {
	drop map[string]bool // incident id → its call has no CALL_COMPLETED note
	down map[string]bool // incident id → its call's pushes stop at its end
	fail map[string]int  // incident id → the status GET /call answers
	gets map[string]int  // call id → GET /call requests
}

// DropCompletedFor makes the call of incidentID (linked later) produce no CALL_COMPLETED
// note. It has no effect on a call already started.
func (a *Assist) DropCompletedFor(incidentID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calling.drop == nil {
		a.calling.drop = map[string]bool{}
	}
	a.calling.drop[incidentID] = true
}

// WebhookDownAtEnd makes the pushes of incidentID's call (linked later) stop from its
// CALL_COMPLETED note on, as if the receiving webhook went down as the call ended: neither
// that note nor CallStatus ENDED is pushed (both are still in GET /call and the notes pull).
func (a *Assist) WebhookDownAtEnd(incidentID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calling.down == nil {
		a.calling.down = map[string]bool{}
	}
	a.calling.down[incidentID] = true
}

// webhookDown reports whether ev of c is not pushed (WebhookDownAtEnd); a.mu is held.
func (a *Assist) webhookDown(c *simCall, ev event) bool {
	down := a.calling.down[c.incidentID] || a.o.WebhookDownEvery > 0 && c.full.n%a.o.WebhookDownEvery == 0
	if !c.full.webhookDown && down {
		st, isStatus := ev.body.(assist.CallStatusUpdateWebhook)
		c.full.webhookDown = ev.note != nil && ev.note.Type == assist.NoteCallCompleted || isStatus && st.Status == assist.CallEnded
	}
	return c.full.webhookDown
}

// FailCall makes GET /call/{id} of incidentID's call answer status (e.g. 503, 404) until
// FailCall(incidentID, 0).
func (a *Assist) FailCall(incidentID string, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calling.fail == nil {
		a.calling.fail = map[string]int{}
	}
	if status == 0 {
		delete(a.calling.fail, incidentID)
		return
	}
	a.calling.fail[incidentID] = status
}

// CallGets is the number of GET /call/{id} requests for callID (answered or failed).
func (a *Assist) CallGets(callID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calling.gets[callID]
}

// CompletedDropped reports whether incidentID's call produces no CALL_COMPLETED note.
func (a *Assist) CompletedDropped(incidentID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byIncident[incidentID]
	return ok && c.full.dropCompleted
}

// Call returns the FullCallDto GET /call/{id} serves now for incidentID's call.
func (a *Assist) Call(incidentID string) (assist.FullCallDto, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byIncident[incidentID]
	if !ok {
		return assist.FullCallDto{}, false
	}
	return c.dto(), true
}

// newFullCall fills c.full for the call numbered n; a.mu is held.
func (a *Assist) newFullCall(c *simCall, n int) {
	rng := rand.New(rand.NewPCG(uint64(a.o.Seed)^0x5eed, uint64(n)))
	sc := scenarios[(n-1+int(rng.IntN(len(scenarios))))%len(scenarios)]
	c.full = fullCall{n: n, created: time.Now().UTC().Truncate(time.Second), summary: sc.summary}
	c.full.dropCompleted = a.calling.drop[c.incidentID] ||
		a.o.DropCompletedEvery > 0 && n%a.o.DropCompletedEvery == 0
	if c.full.dropCompleted {
		a.log.Info("simulated loss: this call's CALL_COMPLETED note will not be sent", "call_id", c.id, "incident_id", c.incidentID)
	}
	at := 1.5
	for i, l := range sc.lines {
		seg := assist.CallSegmentDto{
			CallID: c.id, TranscriptionResultID: fmt.Sprintf("tr-%d-%d", n, i+1),
			LangCode: l.lang, LangCodeConfidence: 0.97, TranscriptionConfidence: 0.9 + float64(rng.IntN(10))/100,
			ParticipantID: fmt.Sprintf("p-%d-%s", n, l.role), ParticipantRole: l.role, Direction: "INBOUND",
			Type: "TRANSCRIPTION", Text: l.text, TranslatedText: l.translated,
			StartTime: at, EndTime: at + 2 + float64(len(l.text))/18,
			CreatedAt: c.full.created.Add(time.Duration(at * float64(time.Second))).Format(time.RFC3339),
		}
		if l.role == "CALL_TAKER" {
			seg.Direction = "OUTBOUND"
		}
		partial := seg
		partial.ID, partial.Text, partial.TranslatedText = fmt.Sprintf("seg-%d-%d-p", n, i+1), firstWords(l.text, 3), ""
		seg.ID, seg.Final = fmt.Sprintf("seg-%d-%d", n, i+1), true
		c.full.segments = append(c.full.segments, partial, seg)
		at = seg.EndTime + 0.5
	}
}

// dto is the FullCallDto of c; a.mu is held.
func (c *simCall) dto() assist.FullCallDto {
	status := assist.CallStarted
	if c.full.ended {
		status = assist.CallEnded
	}
	s := c.full.summary
	return assist.FullCallDto{
		ID: c.id, CallProducer: "sim", PositionID: int64(100 + c.full.n%8), TenantID: 1,
		CallSid: fmt.Sprintf("CA%032x", c.full.n), CallStatus: status, SystemStatus: "OK",
		StreamSid: fmt.Sprintf("MZ%032x", c.full.n), CreatedAt: c.full.created.Format(time.RFC3339),
		StartedAt: c.full.created.Format(time.RFC3339), DetectedLangCode: c.full.segments[0].LangCode,
		LanguageCode: "en-US", CallAudioBucket: "sim-audio", CallAudioKey: c.id + ".wav",
		Summary: &s, StatusEvents: []map[string]any{{"status": status, "at": c.full.created.Format(time.RFC3339)}},
		Segments:     append([]assist.CallSegmentDto(nil), c.full.segments...),
		Participants: map[string]any{"caller": map[string]any{"role": "CALLER"}, "callTaker": map[string]any{"role": "CALL_TAKER"}},
		CaseID:       fmt.Sprintf("case-%d", c.full.n),
	}
}

func (a *Assist) getCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	if a.calling.gets == nil {
		a.calling.gets = map[string]int{}
	}
	a.calling.gets[id]++
	c, ok := a.calls[id]
	var (
		dto    assist.FullCallDto
		status int
	)
	if ok {
		dto, status = c.dto(), a.calling.fail[c.incidentID]
	}
	a.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": true, "errorMessage": "no such call"})
	case status != 0:
		writeJSON(w, status, map[string]any{"error": true, "errorMessage": "simulated failure for call " + id})
	default:
		writeJSON(w, http.StatusOK, dto)
	}
}

func firstWords(s string, n int) string {
	words := 0
	for i, r := range s {
		if r == ' ' {
			if words++; words == n {
				return s[:i]
			}
		}
	}
	return s
}

type line struct{ role, lang, text, translated string }

type scenario struct {
	summary assist.CallSummary
	lines   []line
}

var scenarios = []scenario{
	{
		summary: assist.CallSummary{
			Title: "Structure fire, occupants possibly inside", Summary: "Caller reports smoke from the 2nd floor of a two-storey house; two occupants may still be inside.",
			Nature: "FIRE - STRUCTURE", Location: "1428 Elm Street, rear entrance", Severity: "HIGH",
			Hazards: "Heavy smoke on 2nd floor; gas meter at the rear", TimeSensitivity: "Immediate",
			CallerInfo: "Neighbour, outside the building, not injured", AncillaryServices: "EMS, gas utility",
			AdditionalRemarks: "Caller asks for no sirens on approach",
		},
		lines: []line{
			{"CALL_TAKER", "en-US", "911, what is the address of your emergency?", ""},
			{"CALLER", "en-US", "1428 Elm Street, there is smoke coming out of the second floor.", ""},
			{"CALL_TAKER", "en-US", "Is anyone still inside the house?", ""},
			{"CALLER", "en-US", "I think two people are still in there, I can smell gas at the back.", ""},
		},
	},
	{
		summary: assist.CallSummary{
			Title: "Fall, elderly patient conscious", Summary: "An 82-year-old woman fell in her kitchen; conscious and breathing, possible hip injury.",
			Nature: "MEDICAL - FALL", Location: "22 Harbor View Apartments, unit 4B", Severity: "MEDIUM",
			TimeSensitivity: "Urgent", CallerInfo: "Daughter, on scene",
			AncillaryServices: "EMS", AdditionalRemarks: "Door code 4711; dog on the premises",
		},
		lines: []line{
			{"CALL_TAKER", "en-US", "911, what is your emergency?", ""},
			{"CALLER", "en-US", "My mother fell in the kitchen and cannot get up.", ""},
			{"CALL_TAKER", "en-US", "Is she awake and breathing normally?", ""},
			{"CALLER", "en-US", "Yes, she is talking, but her hip hurts a lot.", ""},
		},
	},
	{
		summary: assist.CallSummary{
			Title: "Collision with power lines down", Summary: "Two-vehicle collision; a utility pole is down and live lines lie across the road.",
			Nature: "TRAFFIC - COLLISION", Location: "Route 9 northbound at Mill Road", Severity: "CRITICAL",
			Hazards: "Live power lines across the road", TimeSensitivity: "Immediate",
			CallerInfo: "Driver of one vehicle, minor injuries", SuspectDetails: "",
			AncillaryServices: "Fire, EMS, power utility", AdditionalRemarks: "Traffic backing up in both directions",
		},
		lines: []line{
			{"CALL_TAKER", "en-US", "911, where are you?", ""},
			{"CALLER", "es-US", "En la ruta 9 en Mill Road, hay cables eléctricos en la calle.", "On Route 9 at Mill Road, there are power lines in the street."},
			{"CALL_TAKER", "en-US", "Stay in your vehicle, do not touch the lines.", ""},
			{"CALLER", "es-US", "Está bien, el otro conductor está sangrando.", "Okay, the other driver is bleeding."},
		},
	},
	{
		summary: assist.CallSummary{
			Title: "Burglary in progress", Summary: "Caller hears breaking glass downstairs; an intruder is inside the home.",
			Nature: "BURGLARY - IN PROGRESS", Location: "7 Orchard Lane", Severity: "HIGH",
			TimeSensitivity: "Immediate", CallerInfo: "Homeowner, hiding upstairs with a child",
			SuspectDetails: "One male, dark hoodie; grey sedan seen heading north", AncillaryServices: "",
			AdditionalRemarks: "Caller stays on the line",
		},
		lines: []line{
			{"CALLER", "en-US", "Someone is breaking into my house, I heard glass downstairs.", ""},
			{"CALL_TAKER", "en-US", "Are you somewhere safe? Stay quiet and stay on the line.", ""},
			{"CALLER", "en-US", "We are upstairs, there is a grey car outside.", ""},
		},
	},
	{
		summary: assist.CallSummary{
			Title: "Noise complaint", Summary: "Loud music from a neighbouring flat after midnight.",
			Nature: "DISTURBANCE - NOISE", Location: "310 Pine Street", Severity: "LOW",
			TimeSensitivity: "Routine", CallerInfo: "Neighbour, wishes to stay anonymous",
		},
		lines: []line{
			{"CALLER", "es-US", "Mis vecinos tienen la música muy alta.", "My neighbours have the music very loud."},
			{"CALL_TAKER", "en-US", "We will send an officer when one is available.", ""},
		},
	},
}
