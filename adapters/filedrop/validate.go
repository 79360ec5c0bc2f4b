package filedrop

import (
	"fmt"
	"path"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Validate checks a decoded config for both roles. Problem keys are relative to
// cad.filedrop.
func Validate(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Inbound == "" {
		add("inbound", `required: the folder the CAD writes incident files into, e.g. /data/cad/in or \\server\share\cad\in`)
	}
	if c.Pattern == "" {
		add("pattern", `required: a glob of incident file names, e.g. "*.xml"`)
	} else if _, err := path.Match(c.Pattern, "x"); err != nil {
		add("pattern", "%q is not a valid glob: %v", c.Pattern, err)
	}
	switch record.Format(c.Format) {
	case record.JSON, record.XML:
	case record.CSV:
		if c.Items != "" {
			add("items", "must be empty with format csv (every row is a record), got %q", c.Items)
		}
	default:
		add("format", "must be one of json | xml | csv, got %q", c.Format)
	}
	if c.Items != "" {
		if _, err := record.ParsePath(c.Items); err != nil {
			add("items", "%q is not a path: %v", c.Items, err)
		}
	}
	if c.StableFor < 100*time.Millisecond {
		add("stable_for", "must be at least 100ms, got %s", c.StableFor)
	}
	if c.Rescan < 100*time.Millisecond {
		add("rescan", "must be at least 100ms, got %s", c.Rescan)
	}
	if c.Lookback < 0 {
		add("lookback", "must be >= 0 (0 = every file), got %s", c.Lookback)
	}
	switch c.After {
	case AfterMove, AfterDelete:
	default:
		add("after", "must be move | delete, got %q", c.After)
	}
	return append(probs, sinkProblems(c)...)
}

// ValidateSink checks a config used only to write notes (cad.sink: filedrop with another
// adapter as the source): outbound is required, inbound is not.
func ValidateSink(c *Config) []adapters.Problem {
	probs := sinkProblems(c)
	if c.Outbound == "" {
		probs = append([]adapters.Problem{{Key: "outbound", Msg: "required when cad.sink is filedrop: the folder notes are written to"}}, probs...)
	}
	return probs
}

// sinkProblems checks note_format and note_template (parsed and run on a sample note).
func sinkProblems(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	switch c.NoteFormat {
	case "json", "xml", "text":
	default:
		return []adapters.Problem{{Key: "note_format", Msg: fmt.Sprintf("must be one of json | xml | text, got %q", c.NoteFormat)}}
	}
	if _, err := parseNoteTemplate(c.NoteFormat, c.NoteTemplate); err != nil {
		probs = append(probs, adapters.Problem{Key: "note_template", Msg: err.Error()})
	}
	return probs
}
