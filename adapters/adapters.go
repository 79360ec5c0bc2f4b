// Package adapters is the contract between the sidecar and a CAD integration (contract
// v2): a Source runs and emits batches of CAD incident records, a Sink writes notes into
// CAD incidents. Each integration style (rest, sql, filedrop, push, eido) lives in its own
// sub-package and registers itself by name, the way database/sql drivers do; the sidecar
// selects one with cad.adapter (and another sink with cad.sink).
//
// A Source is anything that runs: a poller (PollSource turns a poll function and a
// robfig/cron schedule into a Source), a watcher of a folder, a push endpoint mounted on
// the public listener (Deps.Mount). Whatever it is, it hands what it read to the host
// through Emit, which returns only once the records' links are queued and the cursor
// covering them is stored, so a restart resumes from that cursor without gaps and without
// re-linking. Adapters get everything else from the host in Deps, and may implement the
// optional interfaces Provisioner, Validator and io.Closer.
package adapters

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// Record is one CAD incident record in generic form (record.Record, where the decoders live).
type Record = record.Record

// Batch is what a Source emits: the records it read and the cursor that covers them.
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
	// Polled says the records were read from the cursor Since (the host's cursor as
	// Deps.Cursor gave it): the host adopts Cursor only while its stored cursor is still
	// Since, so an operator's `cursor set` during the read wins. PollSource sets both.
	Polled bool
	Since  string
	// AllOrNothing asks the host to queue none of the batch's records when the mapping
	// refuses any of them: Emit then returns a *Refused naming every refused record, and
	// the failure is the sender's, not a failed read (readiness is not touched). Push-style
	// sources set it so that a refused POST is answered 400 and nothing of it is stored.
	AllOrNothing bool
	// Err reports a read that failed (Records are then ignored): the host counts it, logs
	// it and shows it in readiness until a batch succeeds. The Source tries again itself.
	Err error
}

// Emit hands a batch to the host. It returns nil only once every record of the batch was
// mapped and its link queued (or the record reported and skipped) and the batch's cursor
// stored — all durable — so a Source that resumes from the stored cursor after a restart
// has neither gaps nor re-links. An error means the batch is not assured: the Source reads
// it again (PollSource: at its next tick). Emit is safe for one goroutine at a time.
type Emit func(ctx context.Context, b Batch) error

// Source yields CAD incident records: Run reads until ctx is done, handing each batch to
// emit, and returns nil (or ctx's error) when ctx is done. An error returned before that
// stops the sidecar; a failed read is reported with Batch.Err instead and retried.
type Source interface {
	Run(ctx context.Context, emit Emit) error
}

// Provisioner is implemented by a Source or Sink that has work to do once the host is
// ready and before Run (open a listener, warm a cache). A failure stops the start.
type Provisioner interface {
	Provision(ctx context.Context) error
}

// Validator is implemented by a Source or Sink that can check itself once built (after
// Provision); a failure stops the start.
type Validator interface {
	Validate() error
}

// A Source or Sink that holds connections implements io.Closer: the host calls Close
// once for each distinct value the factory returned (used or not) when it stops.

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

// State is a small persistent key/value store of the adapter's own marks (a namespace of
// the sidecar's data file: bucket "adapter/<name>"). Writes are durable when Put returns.
type State interface {
	Get(key string) (value string, ok bool, err error)
	Put(key, value string) error
	Delete(key string) error
}

// Deps are what the host gives an adapter.
type Deps struct {
	// Logger is the adapter's logger (component=cad).
	Logger *slog.Logger
	// Registerer registers the adapter's own metrics; its names must start with
	// cad_sidecar_ (they get the constant label adapter=<name>). Nil in some tests: use
	// Deps.Metrics().
	Registerer prometheus.Registerer
	// Dir is the folder of the config file: relative paths in the adapter's section are
	// relative to it (Deps.Path).
	Dir string
	// State is the adapter's own small store; nil outside a host (tests): Deps.Store().
	State State
	// Cursor reads the host's stored cursor for this source ("" = none yet: start from
	// the adapter's configured start). Nil outside a host: PollSource then starts from "".
	Cursor func() (string, error)
	// Mount routes path on the public listener to h (push-style sources). Only during the
	// factory's New or Provision; nil outside a host.
	Mount func(path string, h http.Handler) error
	// SourceOnly: cad.sink names another adapter, so this adapter's Sink (if it builds
	// one) is not used; it need not warn about writing no notes.
	SourceOnly bool
	// LogContent (log.content) lets the adapter log what a CAD answered — which may quote
	// note text — at info; without it such bodies are logged at debug only.
	LogContent bool
	// CursorTolerance (cad.cursor_tolerance): a Source skips, when taking its next cursor,
	// time values later than now + this and reports them in Batch.FutureCursor. 0 turns
	// the check off.
	CursorTolerance time.Duration
}
