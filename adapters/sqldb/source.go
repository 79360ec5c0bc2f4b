package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/record"
)

var (
	_ adapters.Source = (*Source)(nil)
	_ io.Closer       = (*Source)(nil)
)

// Source polls the reporting database with poll.query on poll.schedule
// (adapters.PollSource over Poll). It owns the connection pool: Close closes it.
type Source struct {
	db     *sql.DB
	poller *poller
	run    *adapters.Poller
}

// Schedule is poll.schedule.
func (s *Source) Schedule() string { return s.poller.cfg.Schedule }

// Run polls until ctx is done: the first poll at once, then on poll.schedule, never two at
// a time.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error { return s.run.Run(ctx, emit) }

// Close closes the connection pool (the Sink's too: they share it). The host calls it at
// stop.
func (s *Source) Close() error { return s.db.Close() }

// Poll runs one poll (see poller.poll).
func (s *Source) Poll(ctx context.Context, cursor string) (adapters.Batch, error) {
	return s.poller.poll(ctx, cursor)
}

// poller holds what one poll needs; poll has the contract's Poll signature, so a
// "poll function + schedule" source helper can wrap it unchanged.
type poller struct {
	db      *sql.DB
	driver  string
	query   Bound
	cfg     PollConfig
	timeout time.Duration
	red     redactor
	log     *slog.Logger
	now     func() time.Time

	// tolerance is cad.cursor_tolerance (Deps.CursorTolerance); 0 = no check.
	tolerance time.Duration

	mu   sync.Mutex
	kind string // the cursor's type, once known
}

// batchKind is the host's name for a cursor type.
func batchKind(kind string) adapters.CursorKind {
	switch kind {
	case CursorTimestamp:
		return adapters.CursorTime
	case CursorInteger, CursorText:
		return adapters.CursorSequence
	}
	return adapters.CursorUnknown
}

// limit is the latest timestamp cursor value adopted (zero: no limit) and, when it was
// needed, the database's clock it was taken from (Batch.Clock). A zone-less column holds
// the CAD's local wall clock, read as UTC: in a zone ahead of UTC its recent values (and
// the stored cursor cur) are later than the sidecar's now + tolerance without being in the
// future. Only then is the database's clock read (one small query), and the values are
// judged against it.
func (p *poller) limit(ctx context.Context, kind string, zoneless bool, cur cursorValue, vals []cursorValue, ok []bool) (limit, clock time.Time, err error) {
	if p.tolerance <= 0 || kind != CursorTimestamp {
		return time.Time{}, time.Time{}, nil
	}
	limit = p.now().Add(p.tolerance)
	if !zoneless {
		return limit, time.Time{}, nil
	}
	beyond := cur.kind == CursorTimestamp && cur.t.After(limit)
	for i, c := range vals {
		if beyond {
			break
		}
		beyond = ok[i] && c.kind == CursorTimestamp && c.t.After(limit)
	}
	if !beyond {
		return limit, time.Time{}, nil
	}
	if clock, err = p.dbNow(ctx); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return clock.Add(p.tolerance), clock, nil
}

// poll runs poll.query with :cursor bound to cursor, typed (a timestamp moved back by
// poll.overlap; an integer), or to poll.start when cursor is "". Each row is a record
// (record.FromSQL); with poll.group_by the rows sharing that column are one record. The
// next cursor is the largest poll.cursor_column value, never less than the incoming one,
// and never a timestamp later than now + Deps.CursorTolerance: such values are skipped and
// the largest is reported in Batch.FutureCursor (the host counts it and shows it in
// readiness), so the cursor still advances over the sane rows. The batch says the
// cursor's kind: a time, or a sequence (integer, rowversion, text) the host never judges.
func (p *poller) poll(ctx context.Context, cursor string) (adapters.Batch, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	kind := p.cursorKind(cursor)
	var (
		cur       cursorValue
		known     = true // cur holds a value (false: beginning of a type not known yet)
		adoptOnly bool   // start: now on a non-time cursor: adopt the largest value, emit nothing
	)
	var res result
	var err error
	switch {
	case !p.query.Uses("cursor"):
		// Nothing is bound; the cursor is still tracked (e.g. for cursor show).
		known = false
		if cursor != "" && kind != CursorAuto {
			cur, known = parseCursor(cursor, kind)
		}
		if res, err = p.run(ctx, cur, false); err != nil {
			return adapters.Batch{}, err
		}
	case cursor != "":
		c, ok := parseCursor(cursor, kind)
		if !ok {
			return adapters.Batch{}, delivery.Permanent(fmt.Errorf("sql: poll: the stored cursor %q is not a %s value (reset it with `cad-sidecar cursor --reset`)", cursor, kind))
		}
		cur = c
		if res, err = p.run(ctx, cur, true); err != nil {
			return adapters.Batch{}, err
		}
	default:
		var done bool
		cur, kind, adoptOnly, done, res, err = p.first(ctx, kind)
		if err != nil {
			return adapters.Batch{}, err
		}
		if done {
			// cur is now on the cursor's own clock (the database's for a zone-less column).
			b := adapters.Batch{Cursor: cur.String(), CursorKind: adapters.CursorTime, Clock: cur.t}
			p.log.Info("poll.start now: polling from the database's current time", "cursor", b.Cursor)
			return b, nil
		}
	}
	if res.kind != CursorAuto && kind == CursorAuto {
		kind = res.kind
	}
	if kind != CursorAuto {
		p.mu.Lock()
		p.kind = kind
		p.mu.Unlock()
	}
	if !known && kind != CursorAuto {
		cur = beginning(kind)
	}

	// The next cursor: the largest value, skipping times later than now + tolerance.
	vals := make([]cursorValue, len(res.cursorVals))
	ok := make([]bool, len(res.cursorVals))
	for i, v := range res.cursorVals {
		vals[i], ok[i] = parseCursor(v, kind)
	}
	limit, clock, err := p.limit(ctx, kind, res.zoneless, cur, vals, ok)
	if err != nil {
		return adapters.Batch{}, err
	}
	next, nextRow := cur, -1
	var fut cursorValue
	futRow, skipped := -1, 0
	for i, c := range vals {
		if !ok[i] {
			continue
		}
		if !limit.IsZero() && c.kind == CursorTimestamp && c.t.After(limit) {
			skipped++
			if futRow < 0 || c.after(fut) {
				fut, futRow = c, i
			}
			continue
		}
		if c.after(next) {
			next, nextRow = c, i
		}
	}
	if skipped > 0 {
		p.log.Debug("cursor values in the future skipped (a wrong clock in the CAD?)",
			"column", p.cfg.CursorColumn, "rows", skipped, "largest", fut.String(), "tolerance", p.tolerance)
	}
	recs := res.rows
	rec := func(row int) int { return row + 1 } // the record (1-based) of a row, 0 = none
	if adoptOnly {
		p.log.Info("poll.start now: the first poll adopts the current cursor and links nothing", "cursor", next.String(), "rows", len(recs))
		recs, rec = nil, func(int) int { return 0 }
	} else if p.cfg.GroupBy != "" {
		var of []int
		recs, of = group(recs, res.groupCol)
		rec = func(row int) int { return of[row] + 1 }
	}
	b := adapters.Batch{Records: recs, Clock: clock}
	if kind != CursorAuto && p.cfg.CursorColumn != "" {
		b.Cursor, b.CursorKind = next.String(), batchKind(kind)
		if nextRow >= 0 {
			b.CursorFrom = rec(nextRow)
		}
		if futRow >= 0 {
			b.FutureCursor, b.FutureFrom = fut.String(), rec(futRow)
		}
	}
	p.log.Debug("cad poll", "rows", len(res.rows), "records", len(recs), "cursor", b.Cursor)
	return b, nil
}

// first runs the first poll of a :cursor query (no cursor stored yet) from poll.start.
// When the cursor's type is not known yet, the query runs once with :cursor bound to NULL
// ("col > NULL" returns no rows, but the column's type). poll.start: now is the database's
// own clock for a zone-less timestamp column (CADs write their local time), the sidecar's
// for a column with a zone, and for an integer or text cursor means: adopt the largest
// value, link nothing (adoptOnly). done: the batch is empty, cur is the cursor to keep.
func (p *poller) first(ctx context.Context, kind string) (cur cursorValue, _ string, adoptOnly, done bool, res result, err error) {
	if p.cfg.Start != StartBeginning && p.cfg.Start != StartNow {
		t, _ := time.Parse(time.RFC3339Nano, p.cfg.Start) // checked by Validate
		cur = cursorValue{kind: CursorTimestamp, t: t.UTC()}
		res, err = p.run(ctx, cur, true)
		return cur, CursorTimestamp, false, false, res, err
	}
	zoneless := true
	if kind == CursorAuto || (p.cfg.Start == StartNow && kind == CursorTimestamp) {
		probe, err := p.run(ctx, cursorValue{}, false)
		if err != nil {
			return cur, kind, false, false, res, err
		}
		if kind == CursorAuto {
			kind = probe.kind
		}
		zoneless = probe.zoneless
		if len(probe.rows) > 0 && p.cfg.Start == StartBeginning {
			return beginning(kind), kind, false, false, probe, nil // a procedure that took NULL as "everything"
		}
		if kind == CursorAuto {
			kind = CursorText
		}
	}
	if p.cfg.Start == StartNow {
		if kind != CursorTimestamp {
			cur, adoptOnly = beginning(kind), true
		} else {
			t := p.now().UTC()
			if zoneless {
				if t, err = p.dbNow(ctx); err != nil {
					return cur, kind, false, false, res, err
				}
			}
			return cursorValue{kind: CursorTimestamp, t: t}, kind, false, true, res, nil
		}
	} else {
		cur = beginning(kind)
	}
	res, err = p.run(ctx, cur, true)
	return cur, kind, adoptOnly, false, res, err
}

// dbNowQuery reads the database's local wall clock, as a zone-less column holds it.
var dbNowQuery = map[string]string{
	DriverPostgres:  "SELECT LOCALTIMESTAMP",
	DriverMySQL:     "SELECT NOW(6)",
	DriverSQLServer: "SELECT SYSDATETIME()",
}

func (p *poller) dbNow(ctx context.Context) (time.Time, error) {
	var v any
	if err := p.db.QueryRowContext(ctx, dbNowQuery[p.driver]).Scan(&v); err != nil {
		return time.Time{}, classify(p.red, "read the database's clock", "", err)
	}
	switch x := v.(type) {
	case time.Time:
		return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC), nil
	case []byte:
		v = string(x)
	}
	if s, ok := v.(string); ok {
		if t, ok := parseTime(s); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("sql: the database's clock answered %T, not a time", v)
}

func (p *poller) cursorKind(cursor string) string {
	if p.cfg.CursorType != CursorAuto {
		return p.cfg.CursorType
	}
	p.mu.Lock()
	k := p.kind
	p.mu.Unlock()
	if k != CursorAuto {
		return k
	}
	if cursor != "" {
		return kindOfText(cursor)
	}
	return CursorAuto
}

type result struct {
	rows       []adapters.Record
	cursorVals []any
	kind       string // the cursor column's type from the result's description
	zoneless   bool   // the cursor column is a time without a zone
	groupCol   string // the group_by column as the result names it
}

// run executes the query once. With known false, :cursor is bound as NULL.
func (p *poller) run(ctx context.Context, cur cursorValue, known bool) (result, error) {
	var arg any
	if known {
		arg = cur.arg(p.cfg.Overlap)
	}
	args, err := p.query.Args(map[string]any{"cursor": arg})
	if err != nil {
		return result{}, delivery.Permanent(fmt.Errorf("sql: poll.query: %w", err))
	}
	target := statementTarget(p.cfg.Query)
	rows, err := p.db.QueryContext(ctx, p.query.SQL, args...)
	if err != nil {
		return result{}, classify(p.red, "poll", target, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return result{}, classify(p.red, "poll", target, err)
	}
	var res result
	ci := -1
	if p.cfg.CursorColumn != "" {
		if ci = findColumn(cols, p.cfg.CursorColumn); ci < 0 {
			return result{}, delivery.Permanent(fmt.Errorf("sql: poll: poll.cursor_column %q is not a column of the query's result (%s)", p.cfg.CursorColumn, strings.Join(cols, ", ")))
		}
		if types, err := rows.ColumnTypes(); err == nil && ci < len(types) {
			res.kind = kindOfColumn(types[ci])
			res.zoneless = zonelessColumn(types[ci])
		}
		if p.cfg.CursorType != CursorAuto {
			res.kind = p.cfg.CursorType
		}
	}
	if p.cfg.GroupBy != "" {
		gi := findColumn(cols, p.cfg.GroupBy)
		if gi < 0 {
			return result{}, delivery.Permanent(fmt.Errorf("sql: poll: poll.group_by %q is not a column of the query's result (%s)", p.cfg.GroupBy, strings.Join(cols, ", ")))
		}
		res.groupCol = cols[gi]
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return result{}, classify(p.red, "poll", target, err)
		}
		rec := record.FromSQL(cols, vals)
		res.rows = append(res.rows, rec)
		if ci >= 0 {
			res.cursorVals = append(res.cursorVals, rec[cols[ci]])
		}
	}
	if err := rows.Err(); err != nil {
		return result{}, classify(p.red, "poll", target, err)
	}
	return res, nil
}

// findColumn finds name among cols: exactly, else ignoring case (PostgreSQL folds unquoted
// names to lower case, SQL Server keeps them).
func findColumn(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// group merges the rows sharing col into one record: the first row's columns, plus "rows",
// the list of all its rows, in the query's order. Records keep the order of each group's
// first row. A row whose col is NULL is a group of its own. of[i] is the index of row i's
// record.
func group(rows []adapters.Record, col string) (out []adapters.Record, of []int) {
	at := map[string]int{}
	of = make([]int, len(rows))
	for ri, r := range rows {
		v := r[col]
		key := ""
		if v != nil {
			key = fmt.Sprintf("%T:%v", v, v)
		}
		if i, ok := at[key]; ok && v != nil {
			out[i]["rows"] = append(out[i]["rows"].([]any), map[string]any(r))
			of[ri] = i
			continue
		}
		first := make(adapters.Record, len(r)+1)
		for k, x := range r {
			first[k] = x
		}
		first["rows"] = []any{map[string]any(r)}
		at[key] = len(out)
		of[ri] = len(out)
		out = append(out, first)
	}
	return out, of
}
