// Package filedrop is the CAD adapter for CADs that exchange files through a folder or a
// Windows share (cad.adapter: filedrop): the CAD writes one JSON, XML or CSV file per
// incident (or per export) into an inbound folder, and reads the notes the sidecar writes
// into an outbound folder.
//
// # Source
//
// The Source watches inbound with fsnotify and rescans it every rescan besides (SMB and NFS
// shares drop events). A file matching pattern is taken once it is complete: its size and
// modification time unchanged for stable_for, or at once when a NAME.done marker stands
// next to it. Files named *.tmp, *.part, *.done or starting with "." or "~" are never
// taken; the pattern matches ignoring case. The
// file is decoded with the record package (format, items as cad.rest's poll.format and
// poll.items; group_by groups the records of one file that share a field, as cad.sql's
// poll.group_by); its records are emitted, and only once emit returned (the links are
// queued, durable) is the file moved to processed/ (or deleted: after: delete). A file that
// cannot be decoded goes to failed/ with FILE.error saying why, and the others flow.
//
// A restart neither skips nor repeats a file: a file stays in inbound until its records
// are durable, so a crash before emit returned re-reads it, and a crash between emit and
// the move re-emits the same records — which the host's content hash per incident makes
// harmless (an unchanged record is not linked again). The lookback applies from the first
// start on: files modified before (first start − lookback) are left alone, so a share with
// years of files is not replayed; the horizon is stored in the adapter's state, so a
// restart after a long stop still takes every file that came meanwhile.
//
// # Sink
//
// Each note is written into outbound atomically: a temp file in the same folder
// (".note-*.tmp", which never matches a *.json/*.xml/*.txt pattern), fsynced, renamed to its
// final name, and the folder fsynced. The name sorts by the note's time and is the same for
// the same idempotency key (20261201T165900.123Z-<incident>-<key hash>.json), so a retry
// overwrites rather than duplicates. note_format json writes the note's fields (the
// idempotency key included); xml and text render note_template (or a default) over the
// note data with the json and xml helpers. A missing, full or unwritable folder is
// transient (retried); a template that cannot render the note is permanent.
package filedrop

import (
	"fmt"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Name is the adapter's name in cad.adapter.
const Name = "filedrop"

// Defaults.
const (
	DefaultPattern   = "*.xml"
	DefaultStableFor = 2 * time.Second
	DefaultRescan    = 30 * time.Second
	DefaultLookback  = 2 * time.Hour
	AfterMove        = "move"
	AfterDelete      = "delete"
)

// The subfolders of inbound that processed and failed files are moved to.
const (
	ProcessedDir = "processed"
	FailedDir    = "failed"
)

// Config is the cad.filedrop section.
type Config struct {
	// Inbound is the watched folder (a UNC path on Windows works).
	Inbound string `koanf:"inbound"`
	// Pattern is the glob (path.Match) of incident file names in Inbound.
	Pattern string `koanf:"pattern"`
	// Format is json, xml or csv.
	Format string `koanf:"format"`
	// Items is the path to the record list inside one file ("" = the file is one record;
	// csv: every row is a record).
	Items string `koanf:"items"`
	// GroupBy is a field: the records of one file sharing it become one record (every
	// field of the first, plus rows, the list of all). "" = none.
	GroupBy string `koanf:"group_by"`
	// StableFor is how long size and mtime must stay unchanged for a file to be complete.
	StableFor time.Duration `koanf:"stable_for"`
	// Rescan is the period of the full rescan besides fsnotify.
	Rescan time.Duration `koanf:"rescan"`
	// Lookback: files modified before the first start minus this are left alone (0 = all).
	Lookback time.Duration `koanf:"lookback"`
	// After is move (to processed/ and failed/) or delete.
	After string `koanf:"after"`
	// Outbound is the folder notes are written to ("" = no sink: read-only).
	Outbound string `koanf:"outbound"`
	// NoteFormat is json, xml or text.
	NoteFormat string `koanf:"note_format"`
	// NoteTemplate is a text/template over the note data ("" = the format's default).
	NoteTemplate string `koanf:"note_template"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		Pattern:    DefaultPattern,
		Format:     string(record.XML),
		StableFor:  DefaultStableFor,
		Rescan:     DefaultRescan,
		Lookback:   DefaultLookback,
		After:      AfterMove,
		NoteFormat: "json",
	}
}

func init() {
	f := adapters.Define(Name, NewConfig, Validate, func(c *Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
		src, sink, err := New(c, deps)
		if err != nil {
			return nil, nil, err
		}
		if sink == nil {
			return src, nil, nil // read-only: the host's notes file
		}
		return src, sink, nil
	})
	adapters.Register(adapters.WithSink(f, ValidateSink, func(c *Config, deps adapters.Deps) (adapters.Sink, error) {
		sink, err := NewSink(c, deps)
		if err != nil {
			return nil, err
		}
		return sink, nil
	}))
}

// New builds the Source, and the Sink when outbound is set; it fails if Validate reports
// problems. Neither folder needs to exist yet: a missing inbound is a failed read, a
// missing outbound a transient note failure, both retried.
func New(c *Config, deps adapters.Deps) (*Source, *Sink, error) {
	if err := problemsErr(Validate(c)); err != nil {
		return nil, nil, err
	}
	var sink *Sink
	if c.Outbound != "" {
		s, err := newSink(c, deps)
		if err != nil {
			return nil, nil, err
		}
		sink = s
	}
	return newSource(c, deps), sink, nil
}

// NewSink builds the Sink alone (cad.sink: filedrop).
func NewSink(c *Config, deps adapters.Deps) (*Sink, error) {
	if err := problemsErr(ValidateSink(c)); err != nil {
		return nil, err
	}
	return newSink(c, deps)
}

func problemsErr(probs []adapters.Problem) error {
	if len(probs) == 0 {
		return nil
	}
	msgs := make([]string, len(probs))
	for i, p := range probs {
		msgs[i] = p.Key + ": " + p.Msg
	}
	return fmt.Errorf("filedrop: invalid config: %s", strings.Join(msgs, "; "))
}
