package mapping

import (
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/internal/tmplfuncs"
)

// TemplateFuncs are the helpers every template of the product gets (tmplfuncs.Funcs: json
// and xml).
func TemplateFuncs() template.FuncMap { return tmplfuncs.Funcs() }

// NoteData is the data of mapping.note.text: the note's fields (.Text is always empty) and
// Label, CriticalMarker and Time.
type NoteData struct {
	IncidentID string
	CallID     string
	UserID     string
	Type       string // CALL_COMPLETED | INFO
	Note       string // the note text as Assist produced it
	Critical   bool
	CreatedAt  string // as Assist gave it (RFC 3339)
	Text       string // always "" (kept for templates written before NoteData)
	Key        string // the note's idempotency key
	// Label is note.labels[Type], or Type when it has no label.
	Label string
	// CriticalMarker is note.critical_marker for a critical note, else "".
	CriticalMarker string
	// Time is CreatedAt in note.time_layout and note.timezone ("" when it does not parse).
	Time string
}

// CallStatusData is the data of note.call_status.text.
type CallStatusData struct {
	IncidentID, CallID, UserID string
	Status                     string // STARTED | ENDED
	At                         string // when the sidecar learnt it, as the sidecar gives it
}

// ActivationData is the data of note.activation.text.
type ActivationData struct {
	IncidentID, CallID, UserID string
	AssistantID                int64
	AssistantName, Explanation string
	At                         string
}

// noteTemplates is the compiled mapping.note.
type noteTemplates struct {
	text               *template.Template
	labels             map[string]string
	marker             string
	layout             string
	loc                *time.Location
	maxLen             int
	status, activation *template.Template
	statusOn, actOn    bool
	partPrefix         *template.Template // nil: not set
}

// Sample data every note template is test-run with by Compile, so that a misspelt field
// (.Nte) is a config problem and not a dead letter.
var (
	sampleNote = adapters.Note{
		IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Type: "INFO",
		Note: "Caller reports smoke", Critical: true, CreatedAt: "2026-01-01T00:00:00Z", Key: "k-1",
	}
	sampleCallStatus = CallStatusData{IncidentID: "260045123", CallID: "c-1", UserID: "u-1", Status: "STARTED", At: "2026-01-01T00:00:00Z"}
	sampleActivation = ActivationData{IncidentID: "260045123", CallID: "c-1", UserID: "u-1", AssistantID: 7,
		AssistantName: "Fire assistant", Explanation: "smoke reported", At: "2026-01-01T00:00:00Z"}
)

const (
	noteFields       = ".IncidentID .CallID .UserID .Type .Label .Note .Critical .CriticalMarker .CreatedAt .Time"
	callStatusFields = ".IncidentID .CallID .UserID .Status .At"
	activationFields = ".IncidentID .CallID .UserID .AssistantID .AssistantName .Explanation .At"
)

func (cp *compiler) compileNotes(c NoteConfig) {
	n := &cp.m.note
	n.labels, n.marker, n.layout, n.maxLen = c.Labels, c.CriticalMarker, c.TimeLayout, c.MaxLength
	n.loc = cp.m.loc
	if strings.TrimSpace(c.Timezone) != "" {
		if loc, err := loadLocation(c.Timezone); err != nil {
			cp.add("note.timezone", err.Error())
		} else {
			n.loc = loc
		}
	}
	if c.MaxLength != 0 && c.MaxLength < MinNoteMaxLength {
		cp.add("note.max_length", "must be 0 (no limit) or at least "+strconv.Itoa(MinNoteMaxLength)+
			" (room for a word and the part marker \" (1/3)\"), got "+strconv.Itoa(c.MaxLength))
	}
	n.text = cp.noteTemplate("note.text", c.Text, n.data(sampleNote), noteFields)
	if c.PartPrefix != "" {
		n.partPrefix = cp.noteTemplate("note.part_prefix", c.PartPrefix, n.data(sampleNote), noteFields)
	}
	n.status = cp.noteTemplate("note.call_status.text", c.CallStatus.Text, sampleCallStatus, callStatusFields)
	n.activation = cp.noteTemplate("note.activation.text", c.Activation.Text, sampleActivation, activationFields)
	n.statusOn, n.actOn = c.CallStatus.Enabled, c.Activation.Enabled
}

// noteTemplate parses and test-runs a note template.
func (cp *compiler) noteTemplate(key, text string, sample any, fields string) *template.Template {
	t, err := template.New(key).Funcs(TemplateFuncs()).Parse(text)
	if err != nil {
		cp.add(key, "cannot parse "+strconv.Quote(text)+": "+templateError(err))
		return nil
	}
	if err := t.Execute(discard{}, sample); err != nil {
		cp.add(key, "cannot render "+strconv.Quote(text)+": "+templateError(err)+" (data: "+fields+")")
		return nil
	}
	return t
}

// templateError drops the "template: " prefix.
func templateError(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// data is the template data of n.
func (nt *noteTemplates) data(n adapters.Note) NoteData {
	d := NoteData{IncidentID: n.IncidentID, CallID: n.CallID, UserID: n.UserID, Type: n.Type,
		Note: n.Note, Critical: n.Critical, CreatedAt: n.CreatedAt, Key: n.Key, Label: n.Type}
	if l, ok := nt.labels[n.Type]; ok {
		d.Label = l
	}
	if n.Critical {
		d.CriticalMarker = nt.marker
	}
	if t, ok := parseAnyTime(strings.TrimSpace(n.CreatedAt), time.UTC); ok {
		d.Time = t.In(nt.loc).Format(nt.layout)
	}
	return d
}

// RenderNote renders mapping.note.text for n and returns the whole text (not split; see
// RenderNoteParts). n.Text is ignored as input (it is empty in the template data).
func (m *Mapper) RenderNote(n adapters.Note) (string, error) {
	return m.render(m.note.text, "note.text", m.note.data(n))
}

// RenderNoteParts renders mapping.note.text for n and splits it by note.max_length: the
// notes to write into the CAD, in order (one unless the text is too long). Every part
// carries the text's frame — what note.text prints before and after .Note (the
// "[Assist CRITICAL] " prefix of the default) — and its marker " (i/n)"; parts 2…n start
// with note.part_prefix instead when it is set. When note.text does not print .Note
// verbatim exactly once (or the frame leaves less than 8 characters for the text), the
// whole text is split as SplitNote does, parts 2…n starting with note.part_prefix if set.
func (m *Mapper) RenderNoteParts(n adapters.Note) ([]string, error) {
	d := m.note.data(n)
	text, err := m.render(m.note.text, "note.text", d)
	if err != nil {
		return nil, err
	}
	max := m.note.maxLen
	if max <= 0 || len(text) <= max || utf8.RuneCountInString(text) <= max {
		return []string{text}, nil
	}
	rest, err := m.partPrefix(d)
	if err != nil {
		return nil, err
	}
	if first, suffix, ok := m.noteFrame(d, text); ok {
		if rest == "" {
			rest = first
		}
		if parts := splitFramed(first, rest, d.Note, suffix, max); parts != nil {
			return parts, nil
		}
	}
	if rest != "" {
		if parts := splitFramed("", rest, text, "", max); parts != nil {
			return parts, nil
		}
	}
	return SplitNote(text, max), nil
}

// noteSentinel stands for .Note when noteFrame renders note.text to find its frame.
const noteSentinel = "\x00\x01note\x01\x00"

// noteFrame finds what note.text prints around .Note: text is prefix + d.Note + suffix.
func (m *Mapper) noteFrame(d NoteData, text string) (prefix, suffix string, ok bool) {
	if strings.Contains(d.Note, noteSentinel) {
		return "", "", false
	}
	probe := d
	probe.Note = noteSentinel
	framed, err := m.render(m.note.text, "note.text", probe)
	if err != nil || strings.Count(framed, noteSentinel) != 1 {
		return "", "", false
	}
	prefix, suffix, _ = strings.Cut(framed, noteSentinel)
	if prefix+d.Note+suffix != text {
		return "", "", false // the template transforms .Note, or prints something per note
	}
	return prefix, suffix, true
}

// partPrefix renders note.part_prefix ("" when it is not set).
func (m *Mapper) partPrefix(d NoteData) (string, error) {
	if m.note.partPrefix == nil {
		return "", nil
	}
	return m.render(m.note.partPrefix, "note.part_prefix", d)
}

// CallStatusNotes reports whether note.call_status.enabled is set: whether call status
// changes are written into the CAD as notes (RenderCallStatus).
func (m *Mapper) CallStatusNotes() bool { return m.note.statusOn }

// ActivationNotes reports whether note.activation.enabled is set.
func (m *Mapper) ActivationNotes() bool { return m.note.actOn }

// RenderCallStatus renders note.call_status.text, split by note.max_length. It renders
// whether or not the notes are enabled.
func (m *Mapper) RenderCallStatus(d CallStatusData) ([]string, error) {
	text, err := m.render(m.note.status, "note.call_status.text", d)
	if err != nil {
		return nil, err
	}
	return SplitNote(text, m.note.maxLen), nil
}

// RenderActivation renders note.activation.text, split by note.max_length.
func (m *Mapper) RenderActivation(d ActivationData) ([]string, error) {
	text, err := m.render(m.note.activation, "note.activation.text", d)
	if err != nil {
		return nil, err
	}
	return SplitNote(text, m.note.maxLen), nil
}

func (m *Mapper) render(t *template.Template, key string, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", &Error{Key: key, Msg: templateError(err), Err: err}
	}
	return b.String(), nil
}
