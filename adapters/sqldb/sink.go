package sqldb

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

var (
	_ adapters.Sink = (*Sink)(nil)
	_ io.Closer     = (*Sink)(nil)
)

// Sink writes each note with write_note.statement.
type Sink struct {
	ownsDB  bool // built alone (cad.sink: sql): Close closes the pool
	db      *sql.DB
	driver  string
	stmt    Bound
	target  string
	timeout time.Duration
	red     redactor
	log     *slog.Logger
}

// Close closes the pool when the Sink was built alone (NewSink); otherwise the Source owns
// it and Close does nothing.
func (s *Sink) Close() error {
	if !s.ownsDB {
		return nil
	}
	return s.db.Close()
}

// WriteNote executes write_note.statement with the note's named parameters (NoteParams).
// It returns nil once the database accepted it; a constraint violation, a refused
// permission or a bad statement is delivery.Permanent (a *DBError: Error() names the code
// and the table, Evidence() the database's message); a lost connection, a timeout or a
// failed login is delivery.Transient.
func (s *Sink) WriteNote(ctx context.Context, n adapters.Note) error {
	args, err := s.stmt.Args(s.noteValues(n))
	if err != nil {
		return delivery.Permanentf("sql: write_note.statement: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.stmt.SQL, args...); err != nil {
		return classifyWrite(s.red, "note for incident "+n.IncidentID, s.target, err)
	}
	s.log.Debug("note written", "incident_id", n.IncidentID, "call_id", n.CallID)
	return nil
}

// noteValues are the named parameters of a note. :created_at is a time when the note's
// creation time is RFC 3339 (PostgreSQL gets the text, which it converts to the column's
// type itself), NULL when it is empty.
func (s *Sink) noteValues(n adapters.Note) map[string]any {
	var created any
	if n.CreatedAt != "" {
		created = n.CreatedAt
		if t, err := time.Parse(time.RFC3339Nano, n.CreatedAt); err == nil && s.driver != DriverPostgres {
			created = t.UTC()
		}
	}
	return map[string]any{
		"incident_id": n.IncidentID,
		"call_id":     n.CallID,
		"user_id":     n.UserID,
		"type":        n.Type,
		"note":        n.Note,
		"text":        n.Text,
		"critical":    n.Critical,
		"created_at":  created,
		"key":         n.Key,
	}
}
