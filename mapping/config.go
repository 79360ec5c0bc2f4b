// Package mapping turns CAD records into LinkIncidentRequests and Assist notes into CAD note
// text. It implements the `mapping:` section of the configuration: sources (paths,
// expr-lang expressions, constants, text/template), transforms (lookup, default, trim,
// max_length, required, omit_empty), the filter, the note templates and their splitting, and
// the content hash that suppresses re-sending unchanged incidents.
//
// A Config is compiled once with Compile (or CompileWith), which reports every problem it
// finds with its key path under `mapping`; the resulting Mapper is immutable and safe for
// concurrent use.
package mapping

import "strings"

// DefaultNoteText is the default of mapping.note.text. .CriticalMarker is
// mapping.note.critical_marker for a critical note and "" otherwise.
const DefaultNoteText = "[Assist{{with .CriticalMarker}} {{.}}{{end}}] {{.Note}}"

// Defaults of the other note settings.
const (
	DefaultCriticalMarker   = "CRITICAL"
	DefaultNoteTimeLayout   = "2006-01-02 15:04:05"
	DefaultCallStatusText   = "[Assist] Call {{.Status}}"
	DefaultActivationText   = "[Assist] {{.AssistantName}} activated: {{.Explanation}}"
	DefaultTimezone         = "UTC"
	MinNoteMaxLength        = 16 // the smallest note.max_length: room for a word and " (1/9)"
	DefaultOutputTimeLayout = "2006-01-02T15:04:05Z"
)

// Config is the `mapping:` section of the configuration.
type Config struct {
	// IncidentID says where the incident number is (required). It is a string — a path,
	// shorthand for {from: path} — or a Source, or (decoded from a config file) a
	// map[string]any with Source's keys. See NormalizeShorthand.
	IncidentID any `koanf:"incident_id" yaml:"incident_id"`
	// UserID is like IncidentID, optional ("" when missing).
	UserID any `koanf:"user_id" yaml:"user_id"`
	// Filter is an expr-lang boolean expression over the record; "" keeps every record.
	Filter string `koanf:"filter" yaml:"filter"`
	// Timezone is the IANA zone of CAD times without a zone (parse_time); default "UTC".
	Timezone string `koanf:"timezone" yaml:"timezone"`
	// TimeLayouts are Go time layouts parse_time (and format_time of a string) tries first,
	// before TimeLayouts, when it is given no layout: the CAD's own formats, e.g.
	// "02.01.2006 15:04" for a European date.
	TimeLayouts []string `koanf:"time_layouts" yaml:"time_layouts"`
	// Sample is a sample record file (.json, .xml or .csv; relative to Options.Dir): when
	// set, expressions are type-checked against it (an unknown name is a problem), paths are
	// checked against it and templates and expressions are test-run on it.
	Sample string `koanf:"sample" yaml:"sample"`
	// Input is how records are decoded: encoding, CSV delimiter, limits.
	Input InputConfig `koanf:"input" yaml:"input"`
	// Fields become LinkIncidentRequest.fields, in this order.
	Fields []Field `koanf:"fields" yaml:"fields"`
	// Note renders Assist notes as CAD note text.
	Note NoteConfig `koanf:"note" yaml:"note"`
}

// Source is where a value comes from and what is done to it: exactly one of From, Expr,
// Value and Template, then the transforms in this order: Lookup and Default, Trim,
// MaxLength, Required, OmitEmpty. It is the form of incident_id and user_id; a Field has
// the same keys plus name and description. A plain string is shorthand for {from: string}.
type Source struct {
	// From is a path: dotted, [n] for list elements, @name for an XML attribute and #text
	// for an XML element's text, e.g. "Units[0].Id", "Location.Address.@type".
	From string `koanf:"from" yaml:"from"`
	// Expr is an expr-lang expression over the record (its top-level keys are variables).
	Expr string `koanf:"expr" yaml:"expr"`
	// Value is a constant.
	Value string `koanf:"value" yaml:"value"`
	// Template is a text/template over the record, with TemplateFuncs.
	Template string `koanf:"template" yaml:"template"`
	// Lookup maps the raw string value to the output value.
	Lookup map[string]string `koanf:"lookup" yaml:"lookup"`
	// Default is used when the value is missing or empty, or (with Lookup) not in Lookup.
	Default string `koanf:"default" yaml:"default"`
	// Trim removes leading and trailing white space.
	Trim bool `koanf:"trim" yaml:"trim"`
	// MaxLength truncates the value to this many characters (runes); 0 = no limit.
	MaxLength int `koanf:"max_length" yaml:"max_length"`
	// Required makes an empty value an error: the record is reported and not sent.
	Required bool `koanf:"required" yaml:"required"`
	// OmitEmpty leaves an empty field out of fields (fields only).
	OmitEmpty bool `koanf:"omit_empty" yaml:"omit_empty"`
}

// Field is one entry of mapping.fields: a name, a description and a Source's keys.
type Field struct {
	Name        string            `koanf:"name" yaml:"name"`
	Description string            `koanf:"description" yaml:"description"`
	From        string            `koanf:"from" yaml:"from"`
	Expr        string            `koanf:"expr" yaml:"expr"`
	Value       string            `koanf:"value" yaml:"value"`
	Template    string            `koanf:"template" yaml:"template"`
	Lookup      map[string]string `koanf:"lookup" yaml:"lookup"`
	Default     string            `koanf:"default" yaml:"default"`
	Trim        bool              `koanf:"trim" yaml:"trim"`
	MaxLength   int               `koanf:"max_length" yaml:"max_length"`
	Required    bool              `koanf:"required" yaml:"required"`
	OmitEmpty   bool              `koanf:"omit_empty" yaml:"omit_empty"`
}

// Source returns the field's source and transforms.
func (f Field) Source() Source {
	return Source{From: f.From, Expr: f.Expr, Value: f.Value, Template: f.Template, Lookup: f.Lookup,
		Default: f.Default, Trim: f.Trim, MaxLength: f.MaxLength, Required: f.Required, OmitEmpty: f.OmitEmpty}
}

// NoteConfig is mapping.note.
type NoteConfig struct {
	// Text is a text/template over NoteData; see DefaultNoteText.
	Text string `koanf:"text" yaml:"text"`
	// Labels maps a note type (CALL_COMPLETED, INFO) to the CAD's word: NoteData.Label.
	Labels map[string]string `koanf:"labels" yaml:"labels"`
	// CriticalMarker is NoteData.CriticalMarker of a critical note; default "CRITICAL".
	CriticalMarker string `koanf:"critical_marker" yaml:"critical_marker"`
	// TimeLayout is the Go layout of NoteData.Time; default "2006-01-02 15:04:05".
	TimeLayout string `koanf:"time_layout" yaml:"time_layout"`
	// Timezone is the IANA zone of NoteData.Time; "" = mapping.timezone.
	Timezone string `koanf:"timezone" yaml:"timezone"`
	// MaxLength splits a longer note into several, in order, each marked " (i/n)";
	// 0 = no limit, otherwise at least MinNoteMaxLength.
	MaxLength int `koanf:"max_length" yaml:"max_length"`
	// PartPrefix is a text/template over NoteData that starts parts 2…n of a split note;
	// "" = what Text prints before .Note (so every part carries "[Assist CRITICAL] ").
	PartPrefix string `koanf:"part_prefix" yaml:"part_prefix"`
	// CallStatus writes a note when a call starts or ends (CallStatusData); off by default.
	CallStatus EventNoteConfig `koanf:"call_status" yaml:"call_status"`
	// Activation writes a note when an assistant is activated (ActivationData); off by default.
	Activation EventNoteConfig `koanf:"activation" yaml:"activation"`
	// Summary writes the call's summary as a CALL_COMPLETED note when Assist pushed none
	// (summary.go); off by default.
	Summary SummaryConfig `koanf:"summary" yaml:"summary"`
	// Transcript writes the call's final transcript when it ends (summary.go); off by default.
	Transcript TranscriptConfig `koanf:"transcript" yaml:"transcript"`
}

// EventNoteConfig is note.call_status and note.activation.
type EventNoteConfig struct {
	Enabled bool   `koanf:"enabled" yaml:"enabled"`
	Text    string `koanf:"text" yaml:"text"`
}

// SetDefaults fills the defaults of empty settings.
func (c *Config) SetDefaults() {
	def := func(s *string, d string) {
		if strings.TrimSpace(*s) == "" {
			*s = d
		}
	}
	def(&c.Timezone, DefaultTimezone)
	def(&c.Note.Text, DefaultNoteText)
	def(&c.Note.CriticalMarker, DefaultCriticalMarker)
	def(&c.Note.TimeLayout, DefaultNoteTimeLayout)
	def(&c.Note.CallStatus.Text, DefaultCallStatusText)
	def(&c.Note.Activation.Text, DefaultActivationText)
	def(&c.Note.Summary.Text, DefaultSummaryText)
	def(&c.Note.Summary.Critical, DefaultSummaryCritical)
	def(&c.Note.Transcript.Text, DefaultTranscriptText)
	if c.Note.Summary.Grace == 0 {
		c.Note.Summary.Grace = DefaultSummaryGrace
	}
}

// NormalizeShorthand rewrites the shorthand forms of a raw (undecoded) mapping section in
// place: `incident_id: X` and `user_id: X` become `{from: X}`. It is what a loader calls on
// the `mapping` map before checking its keys against Config's types and decoding it; raw
// may be nil. Compile accepts both forms, so calling it is optional.
func NormalizeShorthand(raw map[string]any) {
	for _, k := range []string{"incident_id", "user_id"} {
		if s, ok := raw[k].(string); ok {
			raw[k] = map[string]any{"from": s}
		}
	}
}

// Problem is one configuration error. Key is the key path under mapping, e.g.
// "fields[2].expr", "filter", "incident_id".
type Problem struct {
	Key string
	Msg string
}

// String renders the problem as "key: msg" (the key relative to mapping).
func (p Problem) String() string { return p.Key + ": " + p.Msg }
