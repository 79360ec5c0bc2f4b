package sqldb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Check is a dry run against the database, for `validate --connect`: it runs poll.query
// once with :cursor bound to NULL (a "col > :cursor" query returns no rows, but its
// columns) inside a transaction that is rolled back, checks that poll.cursor_column and
// poll.group_by are among the columns, and runs write_note.statement once with a dry-run
// note (DryRunNote) inside a transaction that is rolled back, so that the database checks
// its tables, columns, types and the login's permissions (a foreign key to the dry-run
// note's incident "0", which does not exist, is not a problem: see constraintOnly). It
// returns the query's columns (for MissingColumns) and the problems, keyed relative to
// cad.sql; a refusal names the database's code (SQLSTATE or error number), never its
// message.
//
// Nothing the transactions did is kept, with the exceptions every rollback has: a
// sequence (SERIAL, IDENTITY, AUTO_INCREMENT) may have advanced, and what a trigger or
// procedure wrote outside the transaction (a non-transactional MyISAM table, a procedure
// that commits itself) stays.
func (a *Adapter) Check(ctx context.Context) ([]string, []adapters.Problem) {
	p := a.Source.poller
	var probs []adapters.Problem
	add := func(key string, err error) {
		probs = append(probs, adapters.Problem{Key: key, Msg: err.Error()})
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := a.DB.PingContext(ctx); err != nil {
		add("dsn", classify(p.red, "connect", "", err))
		return nil, probs
	}
	cols, err := a.pollColumns(ctx)
	if err != nil {
		add("poll.query", err)
	}
	if cols != nil {
		for key, col := range map[string]string{"poll.cursor_column": p.cfg.CursorColumn, "poll.group_by": p.cfg.GroupBy} {
			if col != "" && findColumn(cols, col) < 0 {
				add(key, fmt.Errorf("%q is not a column of the query's result (%s)", col, strings.Join(cols, ", ")))
			}
		}
	}
	if s := a.Sink; s != nil {
		if err := s.dryRun(ctx); err != nil {
			add("write_note.statement", err)
		}
	}
	return cols, probs
}

func (a *Adapter) pollColumns(ctx context.Context) ([]string, error) {
	p := a.Source.poller
	tx, err := a.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(p.red, "poll", "", err)
	}
	defer func() { _ = tx.Rollback() }()
	args, err := p.query.Args(map[string]any{"cursor": nil})
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, p.query.SQL, args...)
	if err != nil {
		return nil, classify(p.red, "poll", statementTarget(p.cfg.Query), err)
	}
	cols, err := rows.Columns()
	closeErr := rows.Close()
	if err == nil {
		err = closeErr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return cols, classify(p.red, "poll", statementTarget(p.cfg.Query), err)
	}
	return cols, nil
}

// DryRunNote is the note the dry run of write_note.statement writes (and rolls back):
// an incident id "0" fits a text or an integer column and matches no real incident.
var DryRunNote = adapters.Note{
	IncidentID: "0", CallID: "00000000-0000-0000-0000-000000000000", UserID: "0", Type: "INFO",
	Note: "cad-sidecar validate --connect (rolled back)", Text: "cad-sidecar validate --connect (rolled back)",
	Key: "cad-sidecar-validate-connect",
}

// dryRun executes the note statement with DryRunNote in a transaction that is rolled back.
func (s *Sink) dryRun(ctx context.Context) error {
	n := DryRunNote
	n.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	args, err := s.stmt.Args(s.noteValues(n))
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(s.red, "note statement (rolled back)", s.target, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.stmt.SQL, args...); err != nil {
		err = classify(s.red, "note statement (rolled back)", s.target, err)
		if constraintOnly(err) {
			return nil
		}
		return err
	}
	return nil
}

// constraintOnly: the database accepted the statement, the tables and the permissions, and
// refused only the dry-run note's incident: a foreign key to an incident "0" that does not
// exist (PostgreSQL 23503, MySQL 1452, SQL Server 547), or a unique key the dry-run key
// already holds (23505, 1062, 2601/2627) — as it would refuse a note for no real incident.
// A NOT NULL or CHECK violation stays a problem: the statement leaves out a required value.
func constraintOnly(err error) bool {
	var e *DBError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "SQLSTATE 23503", "SQLSTATE 23505", "error 1452 (SQLSTATE 23000)", "error 1062 (SQLSTATE 23000)",
		"error 547", "error 2601", "error 2627":
		return true
	}
	return false
}
