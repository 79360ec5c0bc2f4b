package sidecar

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// ShadowReport summarises shadow files (`cad-sidecar shadow report`): what a real run
// would have linked and written into the CAD.
type ShadowReport struct {
	Files []string `json:"files"`
	Lines int      `json:"lines"` // lines read and understood
	// BadLines are the lines that are not a shadow record (a write cut short, an edit):
	// each is reported and skipped; the others are counted.
	BadLines []ShadowBadLine `json:"bad_lines"`
	Modes    []string        `json:"modes"`           // the shadow modes of the lines (cad, all)
	First    string          `json:"first,omitempty"` // time of the first line
	Last     string          `json:"last,omitempty"`  // time of the last line

	Incidents    int `json:"incidents_seen"`   // distinct incidents in any line
	Linked       int `json:"incidents_linked"` // distinct incidents linked (mode cad) or that would have been (all)
	LinkRequests int `json:"link_requests"`    // link lines: re-links of changed incidents included
	// Filtered counts the records the filter dropped, by filter.
	Filtered []ShadowCount `json:"filtered"`
	// MappingErrors counts the records the mapping could not handle, by key and field.
	MappingErrors []ShadowCount `json:"mapping_errors"`

	Notes    int `json:"notes"`       // distinct notes (by idempotency key, parts together)
	Writes   int `json:"cad_writes"`  // writes the CAD would have received (a split note's parts each)
	Critical int `json:"critical"`    // critical notes
	Split    int `json:"notes_split"` // notes written in more than one part
	MaxParts int `json:"max_parts"`   // the most parts of one note
	// Longest is the longest single write (what one CAD note field must hold).
	Longest *ShadowLongest `json:"longest_write,omitempty"`
	// PerIncident is every incident seen, in the order first seen.
	PerIncident []ShadowIncident `json:"per_incident"`
}

// ShadowBadLine is a line of a shadow file that could not be read.
type ShadowBadLine struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Err  string `json:"error"`
}

// ShadowCount is the records of one filter or one mapping key.
type ShadowCount struct {
	What      string `json:"what"` // the filter, or the mapping key and field
	Records   int    `json:"records"`
	Incidents int    `json:"incidents"` // distinct
}

// ShadowLongest is the longest write.
type ShadowLongest struct {
	IncidentID string `json:"incident_id"`
	Key        string `json:"key"`
	Length     int    `json:"length"` // characters
}

// ShadowIncident is what happened to one incident.
type ShadowIncident struct {
	IncidentID    string `json:"incident_id"`
	CallID        string `json:"call_id,omitempty"`
	Linked        bool   `json:"linked"`
	LinkRequests  int    `json:"link_requests"`
	Notes         int    `json:"notes"`
	Writes        int    `json:"cad_writes"`
	Critical      int    `json:"critical"`
	Filtered      int    `json:"filtered"`       // records
	MappingErrors int    `json:"mapping_errors"` // records
}

// ReadShadowReport reads the shadow files in the order given (oldest first: the rotated
// file.N … file.1, then file) and summarises them. An unreadable file is an error; a bad
// line is reported in BadLines and the rest is counted.
func ReadShadowReport(files ...string) (*ShadowReport, error) {
	b := newShadowBuilder()
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("shadow report: %w", err)
		}
		err = b.read(name, f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("shadow report: read %s: %w", name, err)
		}
	}
	return b.report(), nil
}

// shadowBuilder accumulates a ShadowReport.
type shadowBuilder struct {
	rep       ShadowReport
	incidents map[string]*ShadowIncident
	order     []string
	modes     map[string]bool
	keys      map[string]bool // incident + write key seen (at-least-once: a repeat counts once)
	notes     map[string]bool // incident + note key (the part suffix cut)
	counts    map[string]map[string]*shadowCounter
	first     time.Time
	last      time.Time
}

type shadowCounter struct {
	records   int
	incidents map[string]bool
}

func newShadowBuilder() *shadowBuilder {
	return &shadowBuilder{incidents: map[string]*ShadowIncident{}, modes: map[string]bool{},
		keys: map[string]bool{}, notes: map[string]bool{},
		counts: map[string]map[string]*shadowCounter{ShadowFiltered: {}, ShadowMappingError: {}}}
}

// read takes every line of r.
func (b *shadowBuilder) read(name string, r io.Reader) error {
	b.rep.Files = append(b.rep.Files, name)
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			b.line(name, n, line, err == io.EOF)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (b *shadowBuilder) bad(name string, n int, msg string) {
	b.rep.BadLines = append(b.rep.BadLines, ShadowBadLine{File: name, Line: n, Err: msg})
}

// line takes one line; last: it had no newline (a write cut short, if it does not parse).
func (b *shadowBuilder) line(name string, n int, line []byte, last bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var r ShadowRecord
	if err := json.Unmarshal(line, &r); err != nil {
		msg := "not a JSON object: " + err.Error()
		if last {
			msg = "the last line is cut short (" + err.Error() + ")"
		}
		b.bad(name, n, msg)
		return
	}
	switch r.Kind {
	case ShadowLink, ShadowNote, ShadowFiltered, ShadowMappingError:
	default:
		b.bad(name, n, fmt.Sprintf("unknown kind %q", r.Kind))
		return
	}
	if r.Kind != ShadowMappingError && r.IncidentID == "" {
		b.bad(name, n, "a "+r.Kind+" line without incident_id")
		return
	}
	b.rep.Lines++
	if r.Mode != "" {
		b.modes[r.Mode] = true
	}
	if at, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
		if b.first.IsZero() || at.Before(b.first) {
			b.first, b.rep.First = at, r.Time
		}
		if at.After(b.last) {
			b.last, b.rep.Last = at, r.Time
		}
	}
	inc := b.incident(r.IncidentID)
	if inc != nil && r.CallID != "" {
		inc.CallID = r.CallID
	}
	switch r.Kind {
	case ShadowLink:
		b.rep.LinkRequests++
		inc.LinkRequests++
		inc.Linked = true
	case ShadowNote:
		b.note(inc, r)
	case ShadowFiltered:
		inc.Filtered++
		b.count(ShadowFiltered, r.Filter, r.IncidentID)
	case ShadowMappingError:
		if inc != nil {
			inc.MappingErrors++
		}
		what := r.Field
		if what == "" {
			what = "(unknown key)"
		}
		b.count(ShadowMappingError, what, r.IncidentID)
	}
}

// incident returns the incident's entry, made on first sight; nil for "" (a mapping
// error before the incident id was known).
func (b *shadowBuilder) incident(id string) *ShadowIncident {
	if id == "" {
		return nil
	}
	inc, ok := b.incidents[id]
	if !ok {
		inc = &ShadowIncident{IncidentID: id}
		b.incidents[id] = inc
		b.order = append(b.order, id)
	}
	return inc
}

func (b *shadowBuilder) note(inc *ShadowIncident, r ShadowRecord) {
	if r.Key != "" {
		k := r.IncidentID + "\x00" + r.Key
		if b.keys[k] {
			return // written again after a crash before the outbox's acknowledgement
		}
		b.keys[k] = true
	}
	b.rep.Writes++
	inc.Writes++
	if r.Parts > b.rep.MaxParts {
		b.rep.MaxParts = r.Parts
	}
	if b.rep.Longest == nil || r.Length > b.rep.Longest.Length {
		b.rep.Longest = &ShadowLongest{IncidentID: r.IncidentID, Key: r.Key, Length: r.Length}
	}
	base := partSuffix.ReplaceAllString(r.Key, "")
	nk := r.IncidentID + "\x00" + base
	if r.Key != "" && b.notes[nk] {
		return // another part of a note already counted
	}
	b.notes[nk] = true
	b.rep.Notes++
	inc.Notes++
	if r.Critical {
		b.rep.Critical++
		inc.Critical++
	}
	if r.Parts > 1 {
		b.rep.Split++
	}
}

func (b *shadowBuilder) count(kind, what, incident string) {
	c, ok := b.counts[kind][what]
	if !ok {
		c = &shadowCounter{incidents: map[string]bool{}}
		b.counts[kind][what] = c
	}
	c.records++
	if incident != "" {
		c.incidents[incident] = true
	}
}

func (b *shadowBuilder) report() *ShadowReport {
	rep := b.rep
	rep.Incidents = len(b.order)
	rep.PerIncident = make([]ShadowIncident, 0, len(b.order))
	for _, id := range b.order {
		inc := *b.incidents[id]
		if inc.Linked {
			rep.Linked++
		}
		rep.PerIncident = append(rep.PerIncident, inc)
	}
	for m := range b.modes {
		rep.Modes = append(rep.Modes, m)
	}
	slices.Sort(rep.Modes)
	rep.Filtered = counts(b.counts[ShadowFiltered])
	rep.MappingErrors = counts(b.counts[ShadowMappingError])
	if rep.BadLines == nil {
		rep.BadLines = []ShadowBadLine{}
	}
	return &rep
}

// counts lists the counters, most records first (then by name).
func counts(m map[string]*shadowCounter) []ShadowCount {
	out := make([]ShadowCount, 0, len(m))
	for what, c := range m {
		out = append(out, ShadowCount{What: what, Records: c.records, Incidents: len(c.incidents)})
	}
	slices.SortFunc(out, func(a, b ShadowCount) int {
		if a.Records != b.Records {
			return b.Records - a.Records
		}
		return strings.Compare(a.What, b.What)
	})
	return out
}

// ShadowFiles lists a shadow file and its rotated files that exist, oldest first
// (file.N … file.1, file): what `shadow report FILE --rotated` reads.
func ShadowFiles(path string) []string {
	var older []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		older = append(older, p)
	}
	slices.Reverse(older)
	return append(older, path)
}
