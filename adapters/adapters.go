// Package adapters is the contract between the sidecar and a CAD integration: a Source
// yields CAD incident records, a Sink writes notes into CAD incidents. Each integration
// style (rest, sql, filedrop, push, eido) lives in its own sub-package and registers itself
// by name, the way database/sql drivers do; the sidecar selects one with cad.adapter.
package adapters

import (
	"context"
	"log/slog"
	"time"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// Record is one CAD incident record in generic form (record.Record, where the decoders live).
type Record = record.Record

// Batch is what one poll of a Source returns.
type Batch struct {
	Records []Record
	// Cursor is the cursor to pass to the next poll ("" = keep the previous one).
	Cursor string
	// CursorFrom is 1 + the index in Records of the record whose field gave Cursor; 0 when
	// not known or the cursor came from elsewhere. The sidecar names that record's
	// incident when it refuses a cursor in the future.
	CursorFrom int
	// CursorKind is what Cursor is (see CursorKind): CursorUnknown lets the host guess;
	// CursorSequence is never judged as a time.
	CursorKind CursorKind
	// FutureCursor is the largest cursor value the Source left out of Cursor because it
	// was later than now + Deps.CursorTolerance (a wrong clock in the CAD); "" = none. The
	// records that carried such values are still in Records; Cursor advanced over the
	// others. The host counts, logs and reports it in readiness.
	FutureCursor string
	// FutureFrom is 1 + the index in Records of the record that carried FutureCursor (0 =
	// not known), as CursorFrom.
	FutureFrom int
	// Clock is "now" as the cursor's times read it, when that is not the host's clock: a
	// database column without a zone holds the CAD's local wall clock, read as UTC. Zero
	// = the host's clock. The host judges a time cursor against Clock + tolerance.
	Clock time.Time
}

// Source yields CAD incident records.
type Source interface {
	// Poll fetches the records changed since cursor ("" on the first poll). It must honour
	// ctx and never block longer than its configured timeout.
	Poll(ctx context.Context, cursor string) (Batch, error)
}

// Scheduled is implemented by a Source that knows its own poll schedule (robfig/cron spec).
type Scheduled interface {
	Schedule() string
}

// Note is one note to write into a CAD incident: the note template data of DESIGN.md.
type Note struct {
	IncidentID string
	CallID     string
	UserID     string
	Type       string // CALL_COMPLETED | INFO
	Note       string // the note text as Assist produced it
	Critical   bool
	CreatedAt  string
	Text       string // the rendered mapping.note.text
	// Key is the note's idempotency key, for sinks that can deduplicate.
	Key string
}

// Sink writes notes into the CAD. WriteNote returns nil only once the CAD accepted the
// note; failures are classified with delivery.Permanent / delivery.Transient / delivery.RetryAfter.
type Sink interface {
	WriteNote(ctx context.Context, n Note) error
}

// Problem is one thing wrong with an adapter's configuration. Key is relative to the
// adapter's section (e.g. "poll.schedule" under cad.rest).
type Problem struct {
	Key string
	Msg string
}

// Deps are what the host gives an adapter.
type Deps struct {
	Logger *slog.Logger
	// LogContent (log.content) lets the adapter log what a CAD answered — which may quote
	// note text — at info; without it such bodies are logged at debug only.
	LogContent bool
	// CursorTolerance (cad.cursor_tolerance): a Source skips, when taking its next cursor,
	// time values later than now + this and reports them in Batch.FutureCursor. 0 turns
	// the check off.
	CursorTolerance time.Duration
}

// Factory describes one adapter. NewConfig returns a pointer to a config struct (koanf
// tags) already holding the defaults; Validate checks a decoded config; New builds the
// Source and Sink from it.
type Factory struct {
	Name      string
	NewConfig func() any
	Validate  func(cfg any) []Problem
	New       func(cfg any, deps Deps) (Source, Sink, error)
}
