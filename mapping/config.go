// Package mapping turns CAD records into LinkIncidentRequests and Assist notes into CAD note
// text. It implements the `mapping:` section of the configuration: paths into a record,
// expr-lang expressions and filters, lookups and defaults, the note template, and the content
// hash that suppresses re-sending unchanged incidents.
//
// A Config is compiled once with Compile, which reports every problem it finds with its key
// path under `mapping`; the resulting Mapper is immutable and safe for concurrent use.
package mapping

import "strings"

// DefaultNoteText is the default of mapping.note.text.
const DefaultNoteText = "[Assist{{if .Critical}} CRITICAL{{end}}] {{.Note}}"

// Config is the `mapping:` section of the configuration.
type Config struct {
	// IncidentID is a path into the record (required).
	IncidentID string `koanf:"incident_id" yaml:"incident_id"`
	// UserID is a path into the record (optional; "" when missing).
	UserID string `koanf:"user_id" yaml:"user_id"`
	// Filter is an expr-lang boolean expression over the record; "" keeps every record.
	Filter string `koanf:"filter" yaml:"filter"`
	// Fields become LinkIncidentRequest.fields, in this order.
	Fields []Field `koanf:"fields" yaml:"fields"`
	// Note renders Assist notes as CAD note text.
	Note NoteConfig `koanf:"note" yaml:"note"`
}

// Field is one entry of mapping.fields. Exactly one of From, Expr and Value is set.
type Field struct {
	Name        string `koanf:"name" yaml:"name"`
	Description string `koanf:"description" yaml:"description"`
	// From is a path: dotted, [n] for list elements, e.g. "Units[0].Id".
	From string `koanf:"from" yaml:"from"`
	// Expr is an expr-lang expression over the record (its top-level keys are variables).
	Expr string `koanf:"expr" yaml:"expr"`
	// Value is a constant.
	Value string `koanf:"value" yaml:"value"`
	// Lookup maps the raw string value to the output value.
	Lookup map[string]string `koanf:"lookup" yaml:"lookup"`
	// Default is used when the value is missing or empty, or (with Lookup) not in Lookup.
	Default string `koanf:"default" yaml:"default"`
}

// NoteConfig is mapping.note.
type NoteConfig struct {
	// Text is a text/template over the note template data; see DefaultNoteText.
	Text string `koanf:"text" yaml:"text"`
}

// SetDefaults fills the defaults of empty settings.
func (c *Config) SetDefaults() {
	if strings.TrimSpace(c.Note.Text) == "" {
		c.Note.Text = DefaultNoteText
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
