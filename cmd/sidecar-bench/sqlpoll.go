package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The sql-poll scenarios poll a real PostgreSQL (started through internal/dbtest, in a
// temporary directory, once per run) with the sql adapter, holding SQLRows incidents of 12
// columns whose last_updated values lie within the last 10 s before the newest:
//
//	sql-poll-changed  one poll of every row, all new: sqldb's Poll, sidecar.Detect, and what
//	                  the sidecar's poll does with the changes (each link with its hash,
//	                  and the cursor, committed by EnqueueLatestBatch) — wall time, against reading the same query with database/sql into
//	                  []any (no mapping, nothing stored)
//	sql-poll-steady   the poll of a sidecar whose cursor is the newest row: every row is
//	                  read again inside the 30 s overlap, and unchanged (sidecar.DetectWith
//	                  with the Memo the previous poll filled, as the sidecar runs it: a
//	                  fingerprint per row, no mapping) — the process's CPU time
//	                  (getrusage), against the same query read into []any
//	sql-poll-idle     a poll with no row after the cursor — CPU time per poll, against a
//	                  bare SELECT 1 round trip
const (
	sqlChangedTargetMs    = 1000 // one poll of 10,000 changed rows mapped and enqueued
	sqlSteadyTargetCPUMs  = 100  // the sidecar's CPU for a steady-state poll of 10,000 rows
	sqlIdleTargetCPUMs    = 5    // the sidecar's CPU for an idle poll
	sqlChangedTargetRatio = 0.05 // baseline time / measured time: the poll ≤ 20 × the bare read
	sqlSteadyTargetRatio  = 0.25 // baseline CPU / measured CPU: the poll ≤ 4 × the bare read
	sqlIdleTargetRatio    = 0.2  // SELECT 1's CPU / the idle poll's CPU: ≤ 5 round trips' worth
)

// sqlPollResult is the line of one sql-poll scenario. A run without PostgreSQL prints the
// bench name and Skipped only.
type sqlPollResult struct {
	Bench   string `json:"bench"`
	Skipped string `json:"skipped,omitempty"`
	Rows    int    `json:"rows"`
	// Queued is how many links the poll enqueued (changed: every row; else 0).
	Queued int `json:"queued"`
	// Ms is the measured side's figure: wall ms (changed) or CPU ms of the process (steady,
	// idle); BaselineMs the same figure of the baseline.
	Ms         float64 `json:"ms"`
	Measure    string  `json:"measure"`
	BaselineMs float64 `json:"baseline_ms"`
	Baseline   string  `json:"baseline"`
	Ratio      float64 `json:"ratio"`
	Target     string  `json:"target"`
	OK         bool    `json:"ok"`

	targetMs, targetRatio float64
}

func (sqlPollResult) failed() error { return nil }

func (r sqlPollResult) key() float64 { return r.Ratio }

func (r sqlPollResult) ratios() (got, target float64) {
	if r.Skipped != "" {
		return 0, 0 // nothing measured: no floor to judge
	}
	return r.Ratio, r.targetRatio
}

func (r sqlPollResult) judge() result {
	r.OK = r.Skipped == "" && r.Ms <= r.targetMs && r.Ratio >= r.targetRatio
	return r
}

// sqlEnv is the PostgreSQL of one run, started by the first sql-poll scenario (and the
// reason it could not be, if so), closed at the end of the run.
type sqlEnv struct {
	once    sync.Once
	srv     *dbtest.Server
	db      string
	rows    int
	newest  time.Time
	skipped string
	err     error
}

func (e *sqlEnv) close() {
	if e != nil && e.srv != nil {
		e.srv.Close()
	}
}

// get starts the server and loads the rows on first use.
func (e *sqlEnv) get(ctx context.Context, p params) (*sqlEnv, error) {
	e.once.Do(func() {
		if err := dbtest.Missing(dbtest.KindPostgres); err != nil {
			e.skipped = err.Error() + ": apt-get install postgresql to run the sql-poll scenarios"
			return
		}
		start := time.Now()
		if e.srv, e.err = dbtest.StartPostgres(); e.err != nil {
			return
		}
		if e.db, e.err = e.srv.CreateDatabase(ctx); e.err != nil {
			return
		}
		e.rows = p.SQLRows
		// The newest row is a minute old: within the sidecar's clock, so no cursor is
		// judged in the future; the others spread over the 10 s before it.
		e.newest = time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
		e.err = e.srv.ExecContext(ctx, e.db,
			`CREATE TABLE incidents (seq BIGINT PRIMARY KEY, incident_no TEXT NOT NULL, nature TEXT, priority INT,
				address TEXT, city TEXT, lat NUMERIC(9,6), lon NUMERIC(9,6), phone TEXT, taker TEXT,
				received TIMESTAMPTZ, narrative TEXT, last_updated TIMESTAMPTZ NOT NULL)`,
			fmt.Sprintf(`INSERT INTO incidents SELECT g, 'INC-' || g, 'NATURE ' || (g %% 17), 1 + g %% 3,
				g || ' MAIN ST', 'SPRINGFIELD', 39.78 + g / 1e6, -89.65, '+1 (217) 555-' || lpad((g %% 10000)::text, 4, '0'),
				'CT' || (g %% 40) || '  ', TIMESTAMPTZ '2026-03-01 10:00:00Z' + g * INTERVAL '1 second', repeat('caller reports ', 6),
				TIMESTAMPTZ '%s' - (%d - g) * (INTERVAL '10 seconds' / %d)
			FROM generate_series(1, %d) g`, e.newest.Format(time.RFC3339Nano), e.rows, e.rows, e.rows),
			"CREATE INDEX ON incidents (last_updated)", "ANALYZE incidents")
		p.logf("sql-poll: PostgreSQL on 127.0.0.1:%d with %d rows ready in %s", e.srv.Port, e.rows, time.Since(start).Round(time.Millisecond))
	})
	return e, e.err
}

const sqlPollQuery = "SELECT * FROM incidents WHERE last_updated > :cursor ORDER BY last_updated, seq"

// sqlMapping maps the bench table's rows: paths, a lookup, expressions, a trim, a cut.
func sqlMapping() (*mapping.Mapper, error) {
	m, probs := mapping.Compile(mapping.Config{
		IncidentID: "incident_no",
		UserID:     map[string]any{"from": "taker", "trim": true},
		Fields: []mapping.Field{
			{Name: "Nature", Description: "Nature", From: "nature"},
			{Name: "Priority", Description: "Priority", From: "priority", Lookup: map[string]string{"1": "High", "2": "Medium", "3": "Low"}},
			{Name: "Address", Description: "Address", Expr: `address + ", " + city`},
			{Name: "Latitude", Description: "Latitude", From: "lat"},
			{Name: "Longitude", Description: "Longitude", From: "lon"},
			{Name: "Phone", Description: "Callback number", Expr: "substr(digits(phone), -10)"},
			{Name: "Received", Description: "Received", Expr: "format_time(received)"},
			{Name: "Narrative", Description: "Narrative", From: "narrative", Trim: true, MaxLength: 60},
		},
	})
	if len(probs) > 0 {
		return nil, fmt.Errorf("mapping: %v", probs)
	}
	return m, nil
}

// sqlSource opens the sql adapter on the bench database (timestamp cursor, 30 s overlap).
func sqlSource(e *sqlEnv) (*sqldb.Adapter, error) {
	c := sqldb.NewConfig()
	c.Driver = sqldb.DriverPostgres
	c.DSN = e.srv.DSN(e.db)
	c.QueryTimeout = time.Minute
	c.Poll.Query = sqlPollQuery
	c.Poll.CursorColumn = "last_updated"
	c.Poll.Overlap = 30 * time.Second
	return sqldb.New(c, adapters.Deps{CursorTolerance: time.Hour})
}

// readAll is the baselines' read: the poll's query with database/sql, every row scanned
// into []any, nothing else.
func readAll(ctx context.Context, db *sql.DB, since time.Time) (int, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM incidents WHERE last_updated > $1 ORDER BY last_updated, seq", since)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}

// cpuOf runs fn and returns the process CPU time it took (cpuTime: getrusage RUSAGE_SELF,
// every goroutine's work, the driver's decoding and the garbage collector included; the
// database server is another process and not counted).
func cpuOf(fn func() error) (time.Duration, error) {
	t0 := cpuTime()
	if err := fn(); err != nil {
		return 0, err
	}
	return cpuTime() - t0, nil
}

func skippedSQL(name, why string) result {
	return sqlPollResult{Bench: name, Skipped: why}
}

// sqlCursor is a timestamp cursor as the sql adapter writes it.
func sqlCursor(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sqlSetup is what every sql-poll scenario starts with: the PostgreSQL of the run (or the
// scenario's "skipped" result without one), an sql source on it and the mapping.
func sqlSetup(ctx context.Context, p params, name string) (*sqlEnv, *sqldb.Adapter, *mapping.Mapper, result, error) {
	e, err := p.sql.get(ctx, p)
	if err != nil || e.skipped != "" {
		return nil, nil, nil, skippedSQL(name, e.skipped), err
	}
	a, err := sqlSource(e)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	m, err := sqlMapping()
	if err != nil {
		a.Close()
		return nil, nil, nil, nil, err
	}
	return e, a, m, nil, nil
}

func runSQLChanged(ctx context.Context, p params) (result, error) {
	const name = "sql-poll-changed"
	if !p.SQLChanged {
		return skippedSQL(name, "not run with -quick (it needs a full outbox commit of 10,000 links); run it without "+
			"-quick, or with -only sql-poll-changed"), nil
	}
	e, a, m, skipped, err := sqlSetup(ctx, p, name)
	if skipped != nil || err != nil {
		return skipped, err
	}
	defer a.Close()
	before := e.newest.Add(-time.Hour)                    // before every row (and the overlap)
	if _, err := readAll(ctx, a.DB, before); err != nil { // warm the pool and the server's cache
		return nil, err
	}

	// Baseline: the same rows read with database/sql into []any.
	stop := p.profile(name + "-baseline")
	start := time.Now()
	n, err := readAll(ctx, a.DB, before)
	base := time.Since(start)
	stop()
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}

	// Measured: the poll, Detect, and each change stored as the sidecar's poll stores it.
	dir, err := os.MkdirTemp(p.Dir, "sidecar-bench-sql-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hashes := map[string]string{}
	known := func(id string) string { return hashes[id] }
	stop = p.profile(name)
	start = time.Now()
	queued, err := pollAndStore(ctx, a, m, st, sqlCursor(before), known, hashes, &sidecar.Memo{})
	el := time.Since(start)
	stop()
	if err != nil {
		return nil, err
	}
	if queued != e.rows || n != e.rows {
		return nil, fmt.Errorf("%d rows read by the baseline, %d links queued, want %d each", n, queued, e.rows)
	}
	p.logf("%s: %d rows polled, mapped and queued in %s; read alone in %s", name, queued, el.Round(time.Millisecond), base.Round(time.Millisecond))
	return sqlPollResult{
		Bench: name, Rows: e.rows, Queued: queued,
		Ms: round(ms(el), 2), Measure: "wall time of the poll, mapping, change detection and the links enqueued",
		BaselineMs: round(ms(base), 2), Baseline: "the same query read by database/sql into []any",
		Ratio:    sqlRatio(base, el),
		Target:   fmt.Sprintf("ms<=%d, ratio>=%g", sqlChangedTargetMs, sqlChangedTargetRatio),
		targetMs: sqlChangedTargetMs, targetRatio: sqlChangedTargetRatio,
	}, nil
}

// pollAndStore is one poll as the sidecar runs it (sidecar.takeBatch, after the source's
// poll): Poll, Detect, then every new or changed incident's link with its hash, and the
// cursor, committed by outbox.EnqueueLatestBatch (latest state wins; chunks of
// outbox.BatchChunkItems, the cursor with the last). It returns how many links it queued.
func pollAndStore(ctx context.Context, a *sqldb.Adapter, m *mapping.Mapper, st *outbox.Store, cursor string,
	known func(string) string, hashes map[string]string, memo *sidecar.Memo) (int, error) {
	b, err := a.Source.Poll(ctx, cursor)
	if err != nil {
		return 0, err
	}
	var items []outbox.Item
	for _, c := range sidecar.DetectWith(m, b.Records, known, memo) {
		switch c.Outcome {
		case sidecar.Failed:
			return 0, fmt.Errorf("incident %s: %w", c.IncidentID, c.Err)
		case sidecar.Queue:
			payload, err := json.Marshal(c.Request)
			if err != nil {
				return 0, err
			}
			items = append(items, outbox.Item{Key: c.IncidentID, Payload: payload,
				State: []outbox.StatePut{{Bucket: "hash", Key: c.IncidentID, Value: c.Hash}}})
			hashes[c.IncidentID] = c.Hash
		}
	}
	var final []outbox.StatePut
	if b.Cursor != "" {
		final = append(final, outbox.StatePut{Bucket: "cursor", Key: "cad", Value: b.Cursor})
	}
	if _, err := st.EnqueueLatestBatch(ctx, outbox.TopicLink, items, final); err != nil {
		return 0, err
	}
	return len(items), nil
}

func runSQLSteady(ctx context.Context, p params) (result, error) {
	const name = "sql-poll-steady"
	e, a, m, skipped, err := sqlSetup(ctx, p, name)
	if skipped != nil || err != nil {
		return skipped, err
	}
	defer a.Close()
	// The previous poll linked every row; the stored cursor is the newest row's.
	cursor := sqlCursor(e.newest)
	// That poll mapped them: the sidecar's Memo remembers each raw record with its hash.
	hashes := map[string]string{}
	memo := &sidecar.Memo{}
	b, err := a.Source.Poll(ctx, sqlCursor(e.newest.Add(-time.Hour)))
	if err != nil {
		return nil, err
	}
	for _, c := range sidecar.DetectWith(m, b.Records, func(string) string { return "" }, memo) {
		hashes[c.IncidentID] = c.Hash
	}
	known := func(id string) string { return hashes[id] }
	since := e.newest.Add(-30 * time.Second) // what the adapter binds: the cursor minus the overlap

	var cpus, baseCPUs []time.Duration
	stopProf := p.profile(name)
	defer stopProf()
	for cycle := range p.SQLCycles {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var n int
		runtime.GC()
		bc, err := cpuOf(func() (err error) { n, err = readAll(ctx, a.DB, since); return err })
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		var changes []sidecar.Change
		var rows int
		runtime.GC()
		c, err := cpuOf(func() error {
			b, err := a.Source.Poll(ctx, cursor)
			if err != nil {
				return err
			}
			rows = len(b.Records)
			changes = sidecar.DetectWith(m, b.Records, known, memo)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			if ch.Outcome != sidecar.Unchanged {
				return nil, fmt.Errorf("cycle %d: incident %s is %v, want unchanged", cycle, ch.IncidentID, ch.Outcome)
			}
		}
		if rows != e.rows || n != e.rows {
			return nil, fmt.Errorf("cycle %d: the poll read %d rows, the baseline %d, want %d (inside the overlap)", cycle, rows, n, e.rows)
		}
		cpus, baseCPUs = append(cpus, c), append(baseCPUs, bc)
	}
	slices.Sort(cpus)
	slices.Sort(baseCPUs)
	med, baseMed := cpus[len(cpus)/2], baseCPUs[len(baseCPUs)/2]
	p.logf("%s: %d cycles of %d unchanged rows: CPU min %s, median %s, max %s; baseline median %s", name, len(cpus), e.rows,
		cpus[0].Round(time.Microsecond), med.Round(time.Microsecond), cpus[len(cpus)-1].Round(time.Microsecond), baseMed.Round(time.Microsecond))
	return sqlPollResult{
		Bench: name, Rows: e.rows,
		Ms: round(ms(med), 2), Measure: "process CPU (getrusage) of the poll and change detection, all rows unchanged, median cycle",
		BaselineMs: round(ms(baseMed), 2), Baseline: "process CPU of the same query read by database/sql into []any",
		Ratio:    sqlRatio(baseMed, med),
		Target:   fmt.Sprintf("ms<=%d, ratio>=%g", sqlSteadyTargetCPUMs, sqlSteadyTargetRatio),
		targetMs: sqlSteadyTargetCPUMs, targetRatio: sqlSteadyTargetRatio,
	}, nil
}

func runSQLIdle(ctx context.Context, p params) (result, error) {
	const name = "sql-poll-idle"
	e, a, m, skipped, err := sqlSetup(ctx, p, name)
	if skipped != nil || err != nil {
		return skipped, err
	}
	defer a.Close()
	// The cursor is past every row and the overlap: the query returns none.
	cursor := sqlCursor(e.newest.Add(time.Minute))
	one := func() error {
		var x int
		return a.DB.QueryRowContext(ctx, "SELECT 1").Scan(&x)
	}
	poll := func() error {
		b, err := a.Source.Poll(ctx, cursor)
		if err != nil {
			return err
		}
		if len(b.Records) != 0 {
			return fmt.Errorf("idle poll read %d rows", len(b.Records))
		}
		sidecar.Detect(m, b.Records, func(string) string { return "" })
		return nil
	}
	for range 20 { // warm the pool, the prepared statement caches, the server
		if err := poll(); err != nil {
			return nil, err
		}
		if err := one(); err != nil {
			return nil, err
		}
	}
	polls := p.SQLIdlePolls
	repeat := func(fn func() error) func() error {
		return func() error {
			for range polls {
				if err := fn(); err != nil {
					return err
				}
			}
			return nil
		}
	}
	stop := p.profile(name)
	defer stop()
	var cpus, baseCPUs []time.Duration
	for range p.SQLCycles {
		runtime.GC()
		bc, err := cpuOf(repeat(one))
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		runtime.GC()
		c, err := cpuOf(repeat(poll))
		if err != nil {
			return nil, err
		}
		cpus, baseCPUs = append(cpus, c/time.Duration(polls)), append(baseCPUs, bc/time.Duration(polls))
	}
	slices.Sort(cpus)
	slices.Sort(baseCPUs)
	med, baseMed := cpus[len(cpus)/2], baseCPUs[len(baseCPUs)/2]
	p.logf("%s: %d cycles of %d polls: CPU per poll median %s; SELECT 1 median %s", name, len(cpus), polls,
		med.Round(time.Microsecond), baseMed.Round(time.Microsecond))
	return sqlPollResult{
		Bench: name, Rows: 0,
		Ms: round(ms(med), 3), Measure: fmt.Sprintf("process CPU (getrusage) per idle poll, the mean of %d, median cycle", polls),
		BaselineMs: round(ms(baseMed), 3), Baseline: "process CPU of a SELECT 1 round trip on the same pool",
		Ratio:    sqlRatio(baseMed, med),
		Target:   fmt.Sprintf("ms<=%d, ratio>=%g", sqlIdleTargetCPUMs, sqlIdleTargetRatio),
		targetMs: sqlIdleTargetCPUMs, targetRatio: sqlIdleTargetRatio,
	}, nil
}

// sqlRatio is base / d with 4 decimals (these ratios are below 1).
func sqlRatio(base, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(base)/float64(d), 4)
}

// MarshalJSON prints a skipped scenario as its name and the reason only (and, like the
// other lines, "<=" unescaped).
func (r sqlPollResult) MarshalJSON() ([]byte, error) {
	type plain sqlPollResult
	var v any = plain(r)
	if r.Skipped != "" {
		v = struct {
			Bench   string `json:"bench"`
			Skipped string `json:"skipped"`
		}{r.Bench, r.Skipped}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
