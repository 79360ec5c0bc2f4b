package sqldb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Check is a dry run against the database, for `validate --connect`: it runs poll.query
// once with :cursor bound to NULL (a "col > :cursor" query returns no rows, but its
// columns) inside a transaction that is rolled back, checks that poll.cursor_column and
// poll.group_by are among the columns, and prepares write_note.statement without running it
// (PostgreSQL and MySQL check its tables, columns and types; SQL Server prepares lazily, so
// there only the connection is checked). It returns the query's columns (for checking the
// mapping's paths against them) and the problems, keyed relative to cad.sql.
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
		if st, err := a.DB.PrepareContext(ctx, s.stmt.SQL); err != nil {
			add("write_note.statement", classify(p.red, "prepare the note statement", s.target, err))
		} else {
			st.Close()
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
