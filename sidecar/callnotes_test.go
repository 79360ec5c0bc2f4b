package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// callNotesMapping is defaultMapping with note.summary / note.transcript settings.
func callNotesMapping(note string) string {
	return `
mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  fields:
    - {name: Status, from: Status}
  note:
    text: "{{.CreatedAt}}|{{.Note}}"
` + note
}

// A long grace: the fallback is due only when the test moves the runner's clock
// (SkewCallNotesClock), so no test waits on a timer.
const longGrace = "    summary: {enabled: true, grace: 1h}\n"

func dropAll(o *sim.AssistOptions) { o.DropCompletedEvery = 1 }

// summaryNotes are the CAD notes of an incident written by the summary fallback.
func summaryNotes(e *env, id string) []sim.CADNote {
	var out []sim.CADNote
	for _, n := range e.cad.Notes(id) {
		if strings.HasPrefix(n.Key, "summary:") {
			out = append(out, n)
		}
	}
	return out
}

// waitEnded waits until the sidecar has recorded the end of incident id's call and
// returns the call id.
func waitEnded(t *testing.T, e *env, id string) string {
	t.Helper()
	var l outbox.Link
	waitFor(t, 20*time.Second, "the end of incident "+id+"'s call", func() bool {
		var ok bool
		l, ok, _ = e.s.Store().GetLink(id)
		return ok && l.Status == assist.CallEnded
	})
	return l.CallID
}

func postEvent(t *testing.T, e *env, body string) {
	t.Helper()
	resp, b := post(t, e.hookURL, hookToken, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", resp.StatusCode, b)
	}
}

func completedBody(incident, callID, text string) string {
	return fmt.Sprintf(`{"callId":%q,"incidentId":%q,"note":{"type":"CALL_COMPLETED","note":%q,"critical":false,"createdAt":"2026-11-25T10:00:00Z"}}`,
		callID, incident, text)
}

// The CALL_COMPLETED note is lost upstream (the simulated Assist never sends it): once the
// grace has passed, the call's summary reaches the incident as one CALL_COMPLETED note,
// rendered from GET /call and critical by note.summary.critical. A CALL_COMPLETED note
// arriving later is written as usual, and neither it nor a repeated ENDED brings the
// fallback back.
func TestSummaryFallbackWhenCompletedNoteIsLost(t *testing.T) {
	e := start(t, envOptions{register: true, assist: dropAll, mapping: callNotesMapping(longGrace)})
	id := e.cad.AddIncident()
	callID := waitEnded(t, e, id)
	waitFor(t, 10*time.Second, "the call's fallback pending", func() bool { return e.metric(t, "cad_sidecar_call_notes_pending") == 1 })
	if len(summaryNotes(e, id)) != 0 || e.as.CallGets(callID) != 0 {
		t.Fatalf("before the grace: pending %v, %d summary notes, %d GET /call", e.metric(t, "cad_sidecar_call_notes_pending"),
			len(summaryNotes(e, id)), e.as.CallGets(callID))
	}
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the summary note in the CAD", func() bool { return len(summaryNotes(e, id)) > 0 })
	waitFor(t, 10*time.Second, "the fallback settled", func() bool { return e.metric(t, "cad_sidecar_call_notes_pending") == 0 })

	call, _ := e.as.Call(id)
	sum := call.Summary
	notes := summaryNotes(e, id)
	if len(notes) != 1 {
		t.Fatalf("%d summary notes, want 1: %+v", len(notes), notes)
	}
	n := notes[0]
	wantStart := "Title: " + sum.Title
	if sum.Hazards != "" {
		wantStart = "Hazards: " + sum.Hazards + "\n" + wantStart
	}
	_, text, _ := strings.Cut(n.Text, "|")
	if !strings.HasPrefix(text, wantStart) || !strings.Contains(text, "Location: "+sum.Location) {
		t.Errorf("summary note %q, want it to start %q", n.Text, wantStart)
	}
	sev := strings.ToUpper(sum.Severity)
	if want := sum.Hazards != "" || sev == "HIGH" || sev == "CRITICAL"; n.Critical != want {
		t.Errorf("critical = %v, want %v (severity %q, hazards %q)", n.Critical, want, sum.Severity, sum.Hazards)
	}
	if n.Key != "summary:"+callID {
		t.Errorf("Idempotency-Key %q", n.Key)
	}
	if got := e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "queued"); got != 1 {
		t.Errorf("summary_fallbacks_total{queued} = %v, want 1", got)
	}

	// Late: Assist's own CALL_COMPLETED note, and the call's ENDED again.
	before := len(e.cad.Notes(id))
	postEvent(t, e, completedBody(id, callID, "late summary from Assist"))
	postEvent(t, e, fmt.Sprintf(`{"callId":%q,"status":"ENDED"}`, callID))
	if p := e.metric(t, "cad_sidecar_call_notes_pending"); p != 0 {
		t.Errorf("after a late CALL_COMPLETED and ENDED: %v calls pending, want 0", p)
	}
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the late CALL_COMPLETED note in the CAD", func() bool { return len(e.cad.Notes(id)) > before })
	last := e.cad.Notes(id)[len(e.cad.Notes(id))-1]
	if !strings.HasSuffix(last.Text, "|late summary from Assist") {
		t.Errorf("last note %q, want the late CALL_COMPLETED note", last.Text)
	}
	if len(summaryNotes(e, id)) != 1 || e.as.CallGets(callID) != 1 || e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "queued") != 1 {
		t.Errorf("the fallback came back: %d summary notes, %d GET /call", len(summaryNotes(e, id)), e.as.CallGets(callID))
	}
}

// A CALL_COMPLETED note that arrives within the grace (here after ENDED; for the other
// calls before it, as Assist sends it) means no fallback: GET /call is not even asked.
func TestNoSummaryFallbackWhenCompletedNoteArrivesInGrace(t *testing.T) {
	e := start(t, envOptions{register: true, mapping: callNotesMapping(longGrace),
		assist: func(o *sim.AssistOptions) { o.DropCompletedEvery = 2 }}) // the 2nd call has none
	normal := e.cad.AddIncident()
	normalCall := waitEnded(t, e, normal)
	late := e.cad.AddIncident()
	lateCall := waitEnded(t, e, late)
	if !e.as.CompletedDropped(late) || e.as.CompletedDropped(normal) {
		t.Fatal("the simulator dropped the wrong CALL_COMPLETED note")
	}
	postEvent(t, e, completedBody(late, lateCall, "summary after the end"))
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "both calls settled", func() bool {
		return e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "not_needed") == 2 &&
			e.metric(t, "cad_sidecar_call_notes_pending") == 0
	})
	waitFor(t, 20*time.Second, "the late note in the CAD", func() bool {
		ns := e.cad.Notes(late)
		return len(ns) > 0 && strings.HasSuffix(ns[len(ns)-1].Text, "|summary after the end")
	})
	if e.as.CallGets(normalCall)+e.as.CallGets(lateCall) != 0 || len(summaryNotes(e, normal))+len(summaryNotes(e, late)) != 0 {
		t.Errorf("a fallback ran: GET /call %d+%d, summary notes %d+%d", e.as.CallGets(normalCall), e.as.CallGets(lateCall),
			len(summaryNotes(e, normal)), len(summaryNotes(e, late)))
	}
	if q := e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "queued"); q != 0 {
		t.Errorf("summary_fallbacks_total{queued} = %v, want 0", q)
	}
}

// One call whose GET /call keeps failing (503) holds up no other call's fallback; it is
// retried and written once Assist answers. A call Assist does not know (404) is given up,
// visibly: metrics and an ERROR line with its call id.
func TestSummaryFallbackOneFailingCallHoldsUpNoOther(t *testing.T) {
	e := start(t, envOptions{register: true, assist: dropAll, mapping: callNotesMapping(longGrace)})
	failing, fine, gone := e.cad.AddIncident(), e.cad.AddIncident(), e.cad.AddIncident()
	e.as.FailCall(failing, http.StatusServiceUnavailable)
	e.as.FailCall(gone, http.StatusNotFound)
	failingCall, goneCall := waitEnded(t, e, failing), waitEnded(t, e, gone)
	waitEnded(t, e, fine)
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the fine call's summary while the other fails", func() bool {
		return len(summaryNotes(e, fine)) == 1 && e.as.CallGets(failingCall) >= 2
	})
	waitFor(t, 20*time.Second, "the unknown call given up", func() bool {
		return e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "given_up") == 1
	})
	if len(summaryNotes(e, failing)) != 0 || len(summaryNotes(e, gone)) != 0 {
		t.Fatal("a summary for a call whose GET /call failed")
	}
	if e.metric(t, "cad_sidecar_assist_call_fetch_errors_total", "kind", "transient") < 1 ||
		e.metric(t, "cad_sidecar_assist_call_fetch_errors_total", "kind", "permanent") != 1 {
		t.Errorf("fetch errors: transient %v, permanent %v", e.metric(t, "cad_sidecar_assist_call_fetch_errors_total", "kind", "transient"),
			e.metric(t, "cad_sidecar_assist_call_fetch_errors_total", "kind", "permanent"))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "level=ERROR msg=\"call summary/transcript given up: fetching the call failed\" call_id="+goneCall) {
		t.Errorf("no ERROR line naming the given-up call %s", goneCall)
	}
	if !strings.Contains(logs, "will retry\" call_id="+failingCall) {
		t.Errorf("no WARN line naming the retried call %s", failingCall)
	}
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "level=DEBUG") && strings.Contains(line, "simulated failure") {
			t.Errorf("Assist's answer (evidence) is in the log above debug: %s", line)
		}
	}
	e.as.FailCall(failing, 0)
	e.s.SkewCallNotesClock(time.Hour) // past any backoff
	waitFor(t, 20*time.Second, "the failing call's summary once Assist answers", func() bool { return len(summaryNotes(e, failing)) == 1 })
	waitFor(t, 10*time.Second, "nothing pending", func() bool { return e.metric(t, "cad_sidecar_call_notes_pending") == 0 })
	if got := e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "queued"); got != 2 {
		t.Errorf("summary_fallbacks_total{queued} = %v, want 2", got)
	}
}

// The transcript is one note split by note.max_length: every part within it, marked, in
// order, and together the final segments (the partial ones left out).
func TestTranscriptNoteSplit(t *testing.T) {
	e := start(t, envOptions{register: true, mapping: callNotesMapping(
		"    max_length: 120\n    transcript: {enabled: true}\n    summary: {grace: 1h}\n")})
	id := e.cad.AddIncident()
	callID := waitEnded(t, e, id)
	e.s.SkewCallNotesClock(2 * time.Hour)
	var parts []sim.CADNote
	waitFor(t, 20*time.Second, "the transcript's parts in the CAD", func() bool {
		parts = parts[:0]
		for _, n := range e.cad.Notes(id) {
			if strings.HasPrefix(n.Key, "transcript:"+callID) {
				parts = append(parts, n)
			}
		}
		return len(parts) > 1 && strings.HasSuffix(parts[0].Key, fmt.Sprintf("/%d", len(parts)))
	})
	call, _ := e.as.Call(id)
	d := mapping.TranscriptData{CallID: callID}
	for _, s := range call.FinalSegments() {
		d.Segments = append(d.Segments, mapping.TranscriptSegment{Role: s.ParticipantRole, Offset: mapping.FormatOffset(s.StartTime),
			Text: s.Text, Translated: s.TranslatedText})
	}
	want, err := e.cfg.Mapper.RenderTranscript(d)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for i, p := range parts {
		marker := fmt.Sprintf(" (%d/%d)", i+1, len(parts))
		if len([]rune(p.Text)) > 120 || !strings.HasSuffix(p.Text, marker) || p.Key != fmt.Sprintf("transcript:%s#%d/%d", callID, i+1, len(parts)) {
			t.Errorf("part %d: %q (key %s)", i+1, p.Text, p.Key)
		}
		_, body, _ := strings.Cut(strings.TrimSuffix(p.Text, marker), "|")
		words = append(words, strings.Fields(body)...)
	}
	if got := strings.Join(words, " "); got != strings.Join(strings.Fields(want), " ") {
		t.Errorf("the parts say\n%s\nwant\n%s", got, want)
	}
	if len(call.FinalSegments()) == len(call.Segments) {
		t.Fatal("the simulated call has no partial segments to leave out")
	}
	if got := e.metric(t, "cad_sidecar_transcripts_total", "result", "queued"); got != 1 {
		t.Errorf("transcripts_total{queued} = %v, want 1", got)
	}
	if e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "queued")+e.metric(t, "cad_sidecar_summary_fallbacks_total", "result", "not_needed") != 0 {
		t.Error("summary counted with note.summary off")
	}
}

// A filedrop sink takes the transcript as a file beside the notes (TranscriptWriter)
// instead of a note.
func TestTranscriptFileForFiledropSink(t *testing.T) {
	out := t.TempDir()
	e := start(t, envOptions{register: true,
		cadExtra: fmt.Sprintf("  sink: filedrop\n  filedrop: {outbound: %q, note_format: json}", out),
		mapping:  callNotesMapping("    transcript: {enabled: true}\n    summary: {grace: 1h}\n")})
	id := e.cad.AddIncident()
	callID := waitEnded(t, e, id)
	e.s.SkewCallNotesClock(2 * time.Hour)
	var file string
	waitFor(t, 20*time.Second, "the transcript file", func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*.transcript.json"))
		if len(m) == 1 {
			file = m[0]
		}
		return len(m) == 1
	})
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CallID   string `json:"call_id"`
		Key      string `json:"key"`
		Segments []struct {
			Role, Text, Translated string
		} `json:"segments"`
	}
	call, _ := e.as.Call(id)
	if err := json.Unmarshal(b, &got); err != nil || got.CallID != callID || got.Key != "transcript:"+callID ||
		len(got.Segments) != len(call.FinalSegments()) || got.Segments[0].Text != call.FinalSegments()[0].Text {
		t.Fatalf("transcript file %s (%v)", b, err)
	}
	waitFor(t, 20*time.Second, "the call's notes as files", func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*.json"))
		return len(m) == 1+len(e.as.NotesFor(id))
	})
	m, _ := filepath.Glob(filepath.Join(out, "*.json"))
	for _, f := range m {
		if b, _ := os.ReadFile(f); f != file && strings.Contains(string(b), "Transcript") {
			t.Errorf("the transcript was also written as a note: %s", f)
		}
	}
}

// Pull-only mode has no ENDED webhook: the puller sees the call end through GET /call,
// and the fallback follows.
func TestSummaryFallbackInPullMode(t *testing.T) {
	e := start(t, envOptions{notes: "pull", assist: dropAll, mapping: callNotesMapping(longGrace)})
	id := e.cad.AddIncident()
	waitFor(t, 20*time.Second, "the simulated call to end", func() bool {
		c, ok := e.as.Call(id)
		return ok && c.CallStatus == assist.CallEnded
	})
	e.s.SkewCallNotesClock(time.Minute) // the next pull looks the call up again
	callID := waitEnded(t, e, id)
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the summary note in the CAD", func() bool { return len(summaryNotes(e, id)) == 1 })
	if e.as.CallGets(callID) < 2 {
		t.Errorf("%d GET /call: want the end check and the summary's", e.as.CallGets(callID))
	}
}

// The webhook path is down as the call ends: neither the CALL_COMPLETED note nor the
// ENDED status reaches the sidecar. Its sweep of the calls with no end finds the call
// ended (GET /call), and the summary still reaches the incident, once.
func TestSummaryFallbackWhenWebhookDownAtCallEnd(t *testing.T) {
	e := start(t, envOptions{register: true, mapping: callNotesMapping(longGrace),
		assist: func(o *sim.AssistOptions) { o.WebhookDownEvery = 1 }})
	id := e.cad.AddIncident()
	waitFor(t, 20*time.Second, "the simulated call to end, its last pushes lost", func() bool {
		c, ok := e.as.Call(id)
		return ok && c.CallStatus == assist.CallEnded && e.as.Pending() == 0
	})
	if l, _, _ := e.s.Store().GetLink(id); l.Status == assist.CallEnded {
		t.Fatal("the sidecar heard of the end: the webhook was not down")
	}
	for _, n := range e.cad.Notes(id) {
		if strings.Contains(n.Text, "Call completed") {
			t.Fatalf("the CALL_COMPLETED note reached the CAD: %q", n.Text)
		}
	}
	e.s.SkewCallNotesClock(10 * time.Minute) // the sweep looks up calls linked 5 minutes ago
	callID := waitEnded(t, e, id)
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the summary note in the CAD", func() bool { return len(summaryNotes(e, id)) > 0 })
	waitFor(t, 10*time.Second, "the fallback settled", func() bool { return e.metric(t, "cad_sidecar_call_notes_pending") == 0 })
	if n := len(summaryNotes(e, id)); n != 1 {
		t.Errorf("%d summary notes, want 1", n)
	}
	if !strings.Contains(e.logs.String(), `msg="no ENDED status came for the call, but Assist says it ended" call_id=`+callID) {
		t.Error("no log line saying the end was found by a look-up")
	}
}

// A call can end before its incident is linked (the incident is often created late): the
// store keeps the ENDED status, and once the link is stored the fallback is armed.
func TestSummaryFallbackForCallEndedBeforeItsLink(t *testing.T) {
	var e *env
	endFirst := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/cad/incident" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var resp assist.LinkIncidentResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err == nil && resp.CallID != "" {
				// Assist says the call ended before it answers the link.
				postEvent(t, e, fmt.Sprintf(`{"callId":%q,"status":"ENDED"}`, resp.CallID))
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
	e = start(t, envOptions{register: true, mapping: callNotesMapping(longGrace), wrapAssist: endFirst,
		assist: func(o *sim.AssistOptions) { o.DropCompletedEvery, o.WebhookDownEvery = 1, 1 }})
	id := e.cad.AddIncident()
	waitEnded(t, e, id)
	waitFor(t, 10*time.Second, "the call's fallback pending", func() bool { return e.metric(t, "cad_sidecar_call_notes_pending") == 1 })
	e.s.SkewCallNotesClock(2 * time.Hour)
	waitFor(t, 20*time.Second, "the summary note in the CAD", func() bool { return len(summaryNotes(e, id)) == 1 })
	if !strings.Contains(e.logs.String(), "call ended (not linked yet)") {
		t.Error("the ENDED status did not come before the link")
	}
}
