package mapping

import (
	"strings"
	"testing"
	"time"
)

func summaryMapper(t *testing.T, note NoteConfig) *Mapper {
	t.Helper()
	m, probs := Compile(Config{IncidentID: "Id", Note: note})
	if len(probs) > 0 {
		t.Fatalf("compile: %v", probs)
	}
	return m
}

func TestRenderSummaryDefault(t *testing.T) {
	m := summaryMapper(t, NoteConfig{Summary: SummaryConfig{Enabled: true}})
	if !m.SummaryNotes() || m.TranscriptNotes() || m.SummaryGrace() != DefaultSummaryGrace {
		t.Fatalf("enabled %v, transcript %v, grace %v", m.SummaryNotes(), m.TranscriptNotes(), m.SummaryGrace())
	}
	for _, tc := range []struct {
		name     string
		d        SummaryData
		want     string
		critical bool
	}{
		{"hazards first, empty fields left out",
			SummaryData{Title: "Fire", Location: "1 Main St", Severity: "Medium", Hazards: "Gas leak", CallerInfo: "Neighbour"},
			"Hazards: Gas leak\nTitle: Fire\nLocation: 1 Main St\nSeverity: Medium\nCaller: Neighbour", true},
		{"high severity is critical", SummaryData{Title: "Burglary", Severity: " high "},
			"Title: Burglary\nSeverity:  high", true},
		{"CRITICAL severity", SummaryData{Severity: "CRITICAL"}, "Severity: CRITICAL", true},
		{"low severity, no hazards", SummaryData{Nature: "NOISE", Severity: "LOW", AdditionalRemarks: "r", SuspectDetails: "s",
			AncillaryServices: "a", TimeSensitivity: "t", Summary: "sum"},
			"Summary: sum\nNature: NOISE\nSeverity: LOW\nTime sensitivity: t\nSuspect: s\nAncillary services: a\nRemarks: r", false},
		{"nothing to say", SummaryData{IncidentID: "1", CallID: "c"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, crit, err := m.RenderSummary(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if text != tc.want || crit != tc.critical {
				t.Errorf("got %q critical %v, want %q critical %v", text, crit, tc.want, tc.critical)
			}
		})
	}
}

func TestRenderSummaryConfigured(t *testing.T) {
	m := summaryMapper(t, NoteConfig{Summary: SummaryConfig{Enabled: true, Grace: 30 * time.Second,
		Text: "{{.Title}} at {{.Location}}", Critical: `Nature startsWith "FIRE"`}})
	text, crit, err := m.RenderSummary(SummaryData{Title: "T", Location: "L", Nature: "FIRE - HOUSE", Hazards: "x"})
	if err != nil || text != "T at L" || !crit || m.SummaryGrace() != 30*time.Second {
		t.Errorf("got %q %v %v grace %v", text, crit, err, m.SummaryGrace())
	}
	if _, crit, _ := m.RenderSummary(SummaryData{Hazards: "x"}); crit {
		t.Error("critical by the default expression, not the configured one")
	}
}

func TestSummaryConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		note NoteConfig
		key  string
	}{
		{"negative grace", NoteConfig{Summary: SummaryConfig{Grace: -time.Second}}, "note.summary.grace"},
		{"bad template", NoteConfig{Summary: SummaryConfig{Text: "{{.Title"}}, "note.summary.text"},
		{"unknown field in template", NoteConfig{Summary: SummaryConfig{Text: "{{.Hazard}}"}}, "note.summary.text"},
		{"unknown name in critical", NoteConfig{Summary: SummaryConfig{Critical: `Hazard != ""`}}, "note.summary.critical"},
		{"critical not a bool", NoteConfig{Summary: SummaryConfig{Critical: `Title`}}, "note.summary.critical"},
		{"unknown field in transcript", NoteConfig{Transcript: TranscriptConfig{Text: "{{range .Segments}}{{.Speaker}}{{end}}"}}, "note.transcript.text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Compile(Config{IncidentID: "Id", Note: tc.note})
			if len(probs) != 1 || probs[0].Key != tc.key {
				t.Fatalf("problems %v, want one for %s", probs, tc.key)
			}
		})
	}
}

func TestRenderTranscript(t *testing.T) {
	m := summaryMapper(t, NoteConfig{Transcript: TranscriptConfig{Enabled: true}})
	got, err := m.RenderTranscript(TranscriptData{CallID: "c", Segments: []TranscriptSegment{
		{Role: "CALL_TAKER", Offset: FormatOffset(1.5), Text: "911, where are you?"},
		{Role: "CALLER", Offset: FormatOffset(75.9), Text: "hola", Translated: "hello"},
	}})
	want := "Transcript\n[0:01] CALL_TAKER: 911, where are you?\n[1:15] CALLER: hola (translated: hello)"
	if err != nil || got != want {
		t.Errorf("got %q (%v), want %q", got, err, want)
	}
}

func TestFormatOffset(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00", 9.99: "0:09", 61: "1:01", 3600: "1:00:00", 3725.5: "1:02:05", -3: "0:00"} {
		if got := FormatOffset(sec); got != want {
			t.Errorf("FormatOffset(%v) = %q, want %q", sec, got, want)
		}
	}
}

func TestSummaryTextLines(t *testing.T) {
	// Every CallSummary field has its labelled line in the default text.
	for _, f := range strings.Fields(summaryFields)[3:] {
		if !strings.Contains(DefaultSummaryText, "{{with "+f+"}}") {
			t.Errorf("default text has no line for %s", f)
		}
	}
}
