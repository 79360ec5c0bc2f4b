package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// The call's own notes: mapping.note.summary (a CALL_COMPLETED note made from the call's
// summary, GET /call/{id}, when Assist pushed none) and mapping.note.transcript (the call's
// final transcript). Both are rendered as an Assist note's .Note: the result goes through
// note.text and note.max_length like any other note.

// Defaults of note.summary and note.transcript.
const (
	DefaultSummaryGrace = 2 * time.Minute
	// DefaultSummaryText prints one labelled line per non-empty field, hazards first.
	DefaultSummaryText = `{{with .Hazards}}Hazards: {{.}}
{{end}}{{with .Title}}Title: {{.}}
{{end}}{{with .Summary}}Summary: {{.}}
{{end}}{{with .Nature}}Nature: {{.}}
{{end}}{{with .Location}}Location: {{.}}
{{end}}{{with .Severity}}Severity: {{.}}
{{end}}{{with .TimeSensitivity}}Time sensitivity: {{.}}
{{end}}{{with .CallerInfo}}Caller: {{.}}
{{end}}{{with .SuspectDetails}}Suspect: {{.}}
{{end}}{{with .AncillaryServices}}Ancillary services: {{.}}
{{end}}{{with .AdditionalRemarks}}Remarks: {{.}}
{{end}}`
	// DefaultSummaryCritical makes the summary critical when it names hazards or a high
	// severity (Assist's severity is free text: compared case-insensitively).
	DefaultSummaryCritical = `Hazards != "" || upper(trim(Severity)) in ["HIGH", "CRITICAL", "SEVERE", "EXTREME"]`
	// DefaultTranscriptText prints a title line, then one line per segment: its offset
	// from the call's start, the speaker's role, the text and its translation.
	DefaultTranscriptText = `Transcript{{range .Segments}}
[{{.Offset}}] {{.Role}}: {{.Text}}{{with .Translated}} (translated: {{.}}){{end}}{{end}}`
)

// SummaryConfig is mapping.note.summary.
type SummaryConfig struct {
	// Enabled turns the fallback on: when a call ends and no CALL_COMPLETED note arrived
	// within Grace, its summary is fetched and written as one.
	Enabled bool `koanf:"enabled" yaml:"enabled"`
	// Grace is how long after the call's end Assist's own CALL_COMPLETED note is waited for
	// (0 = the default, 2m).
	Grace time.Duration `koanf:"grace" yaml:"grace"`
	// Text is a text/template over SummaryData; "" = DefaultSummaryText.
	Text string `koanf:"text" yaml:"text"`
	// Critical is an expr-lang expression over SummaryData; "" = DefaultSummaryCritical.
	Critical string `koanf:"critical" yaml:"critical"`
}

// TranscriptConfig is mapping.note.transcript.
type TranscriptConfig struct {
	// Enabled writes the call's final transcript into the incident when the call ends.
	Enabled bool `koanf:"enabled" yaml:"enabled"`
	// Text is a text/template over TranscriptData; "" = DefaultTranscriptText.
	Text string `koanf:"text" yaml:"text"`
}

// SummaryData is the data of note.summary.text and note.summary.critical: the incident
// and call, and the CallSummary's fields.
type SummaryData struct {
	IncidentID, CallID, UserID string

	Title, Summary, Nature, Location, Severity, Hazards, TimeSensitivity string
	CallerInfo, SuspectDetails, AncillaryServices, AdditionalRemarks     string
}

// TranscriptData is the data of note.transcript.text.
type TranscriptData struct {
	IncidentID, CallID, UserID string
	Segments                   []TranscriptSegment
}

// TranscriptSegment is one final segment of a call's transcript.
type TranscriptSegment struct {
	Role       string  // participantRole, e.g. CALLER
	Start, End float64 // seconds from the call's start
	Offset     string  // Start as m:ss (h:mm:ss past an hour)
	Lang       string  // langCode
	Text       string
	Translated string // translatedText, "" when there is none
}

// FormatOffset writes seconds from the call's start as m:ss, or h:mm:ss past an hour.
func FormatOffset(sec float64) string {
	if sec < 0 || sec != sec {
		sec = 0
	}
	s := int64(sec)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

const (
	summaryFields    = ".IncidentID .CallID .UserID .Title .Summary .Nature .Location .Severity .Hazards .TimeSensitivity .CallerInfo .SuspectDetails .AncillaryServices .AdditionalRemarks"
	transcriptFields = ".IncidentID .CallID .UserID .Segments (each: .Role .Start .End .Offset .Lang .Text .Translated)"
)

var (
	sampleSummary = SummaryData{IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Title: "Structure fire",
		Summary: "Smoke on the 2nd floor", Nature: "FIRE", Location: "1 Main St", Severity: "HIGH",
		Hazards: "Gas meter at the rear", TimeSensitivity: "Immediate", CallerInfo: "Neighbour",
		SuspectDetails: "None", AncillaryServices: "EMS", AdditionalRemarks: "No sirens"}
	sampleTranscript = TranscriptData{IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Segments: []TranscriptSegment{
		{Role: "CALLER", Start: 1.5, End: 3, Offset: "0:01", Lang: "es-US", Text: "hola", Translated: "hello"}}}
)

// callNotes is the compiled note.summary and note.transcript.
type callNotes struct {
	summaryOn, transcriptOn bool
	grace                   time.Duration
	summary, transcript     *template.Template
	critical                *vm.Program
	criticalSrc             string
}

func (cp *compiler) compileCallNotes(c NoteConfig) {
	n := &cp.m.call
	s := c.Summary
	n.summaryOn, n.transcriptOn, n.grace = s.Enabled, c.Transcript.Enabled, s.Grace
	if s.Grace < 0 {
		cp.add("note.summary.grace", "must not be negative, got "+s.Grace.String())
	}
	n.summary = cp.noteTemplate("note.summary.text", s.Text, sampleSummary, summaryFields)
	n.transcript = cp.noteTemplate("note.transcript.text", c.Transcript.Text, sampleTranscript, transcriptFields)
	opts := append(exprOptions(&timeParser{loc: cp.m.loc}), expr.Env(SummaryData{}), expr.AsBool())
	p, err := expr.Compile(s.Critical, opts...)
	if err != nil {
		cp.add("note.summary.critical", "cannot compile "+strconv.Quote(s.Critical)+": "+exprError(err)+" (names: "+summaryFields+")")
		return
	}
	if _, err := expr.Run(p, sampleSummary); err != nil {
		cp.add("note.summary.critical", strconv.Quote(s.Critical)+" fails on a sample summary: "+exprError(err))
		return
	}
	n.critical, n.criticalSrc = p, s.Critical
}

// SummaryNotes reports whether note.summary.enabled is set.
func (m *Mapper) SummaryNotes() bool { return m.call.summaryOn }

// TranscriptNotes reports whether note.transcript.enabled is set.
func (m *Mapper) TranscriptNotes() bool { return m.call.transcriptOn }

// SummaryGrace is note.summary.grace: how long after a call's end its CALL_COMPLETED note
// is waited for.
func (m *Mapper) SummaryGrace() time.Duration { return m.call.grace }

// RenderSummary renders note.summary.text (white space around it trimmed) and evaluates
// note.summary.critical. An empty text means the summary has nothing to say.
func (m *Mapper) RenderSummary(d SummaryData) (text string, critical bool, err error) {
	text, err = m.render(m.call.summary, "note.summary.text", d)
	if err != nil {
		return "", false, err
	}
	out, err := expr.Run(m.call.critical, d)
	if err != nil {
		return "", false, &Error{Key: "note.summary.critical", Msg: strconv.Quote(m.call.criticalSrc) + ": " + exprError(err), Err: err}
	}
	b, _ := out.(bool)
	return strings.TrimSpace(text), b, nil
}

// RenderTranscript renders note.transcript.text (white space around it trimmed).
func (m *Mapper) RenderTranscript(d TranscriptData) (string, error) {
	text, err := m.render(m.call.transcript, "note.transcript.text", d)
	return strings.TrimSpace(text), err
}
