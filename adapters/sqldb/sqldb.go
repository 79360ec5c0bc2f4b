// Package sqldb is the CAD adapter for CADs integrated through a reporting database
// (cad.adapter: sql): PostgreSQL, MySQL/MariaDB or SQL Server through database/sql.
//
// The Source runs poll.query on a schedule with :cursor bound to the last cursor (typed:
// a time for a timestamp cursor, minus poll.overlap so late commits are read again; an
// integer for an integer or rowversion cursor); each row becomes a record (record.FromSQL),
// rows sharing poll.group_by become one record with the list of rows under "rows", and the
// next cursor is the largest poll.cursor_column value seen. The Sink executes
// write_note.statement with the note's named parameters; without write_note the adapter is
// read-only (no Sink). Parameters are :name in the SQL, rewritten to each driver's
// placeholders (see Rewrite): SQL is never built from strings.
//
// Failures are classified with the delivery vocabulary: a lost connection, a timeout, a failed
// login, a deadlock → transient; a constraint violation, a permission refusal, a syntax
// error → permanent. Error() names the SQLSTATE or error number and the statement's target,
// never the DSN's password nor the database's message (it may echo values); the message is
// the error's Evidence().
package sqldb

import (
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"    // driver mysql
	_ "github.com/jackc/pgx/v5/stdlib"  // driver pgx
	_ "github.com/microsoft/go-mssqldb" // driver sqlserver

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Name is the adapter's name in cad.adapter.
const Name = "sql"

// Drivers (cad.sql.driver).
const (
	DriverPostgres  = "postgres"
	DriverMySQL     = "mysql"
	DriverSQLServer = "sqlserver"
)

// sqlDriver maps cad.sql.driver to the database/sql driver name.
var sqlDriver = map[string]string{DriverPostgres: "pgx", DriverMySQL: "mysql", DriverSQLServer: "sqlserver"}

// Start values (poll.start).
const (
	StartBeginning = "beginning"
	StartNow       = "now"
)

// Cursor types (poll.cursor_type).
const (
	CursorAuto      = ""
	CursorTimestamp = "timestamp"
	CursorInteger   = "integer"
	CursorText      = "text"
)

// Defaults.
const (
	DefaultMaxOpenConns = 4
	DefaultQueryTimeout = 10 * time.Second
	DefaultSchedule     = "@every 2s"
)

// NoteParams are the named parameters write_note.statement can use.
var NoteParams = []string{"incident_id", "call_id", "user_id", "type", "note", "text", "critical", "created_at", "key"}

// Config is the cad.sql section.
type Config struct {
	// Driver is postgres | sqlserver | mysql.
	Driver string `koanf:"driver"`
	// DSN is the driver's connection string; its password is never logged.
	DSN string `koanf:"dsn"`
	// DSNFile is read for the DSN when DSN is empty (the config loader resolves it already).
	DSNFile string `koanf:"dsn_file"`
	// MaxOpenConns bounds the connections to the database.
	MaxOpenConns int `koanf:"max_open_conns"`
	// QueryTimeout bounds every query and statement, rows included.
	QueryTimeout time.Duration `koanf:"query_timeout"`
	Poll         PollConfig    `koanf:"poll"`
	// WriteNote is optional: without a statement the integration is read-only.
	WriteNote WriteNoteConfig `koanf:"write_note"`
}

// PollConfig is cad.sql.poll.
type PollConfig struct {
	// Schedule is a robfig/cron spec.
	Schedule string `koanf:"schedule"`
	// Query is a SELECT or a procedure call, with :cursor.
	Query string `koanf:"query"`
	// CursorColumn is the result column whose largest value becomes the next :cursor.
	CursorColumn string `koanf:"cursor_column"`
	// CursorType is timestamp | integer | text, or "" to tell from the column's type.
	CursorType string `koanf:"cursor_type"`
	// Overlap is subtracted from a timestamp cursor before it is bound (late commits).
	Overlap time.Duration `koanf:"overlap"`
	// Start is the first poll's cursor: beginning | now | an RFC 3339 time.
	Start string `koanf:"start"`
	// GroupBy: rows sharing this column become one record (first row's columns + "rows").
	GroupBy string `koanf:"group_by"`
}

// WriteNoteConfig is cad.sql.write_note.
type WriteNoteConfig struct {
	// Statement is an INSERT or a procedure call with the note parameters (NoteParams).
	Statement string `koanf:"statement"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() *Config {
	return &Config{
		MaxOpenConns: DefaultMaxOpenConns,
		QueryTimeout: DefaultQueryTimeout,
		Poll:         PollConfig{Schedule: DefaultSchedule, Start: StartBeginning},
	}
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("driver", c.Driver), slog.String("dsn", RedactDSN(c.Driver, c.DSN)))
}

func init() {
	f := adapters.Define(Name, NewConfig, Validate, func(c *Config, deps adapters.Deps) (adapters.Source, adapters.Sink, error) {
		a, err := New(c, deps)
		if err != nil {
			return nil, nil, err
		}
		if a.Sink == nil {
			return a.Source, nil, nil // read-only: an untyped nil Sink
		}
		return a.Source, a.Sink, nil
	})
	adapters.Register(adapters.WithSink(f, ValidateSink, func(c *Config, deps adapters.Deps) (adapters.Sink, error) {
		sink, err := NewSink(c, deps)
		if err != nil {
			return nil, err
		}
		return sink, nil
	}))
}

// ValidateSink checks a config used only to write notes (cad.sink: sql with another
// adapter as the source): everything but poll, and write_note.statement is required.
func ValidateSink(c *Config) []adapters.Problem {
	probs := adapters.WithoutPoll(Validate(c))
	if strings.TrimSpace(c.WriteNote.Statement) == "" {
		probs = append(probs, adapters.Problem{Key: "write_note.statement", Msg: "required when cad.sink is sql (the statement that writes a note)"})
	}
	return probs
}

// NewSink builds the Sink alone (cad.sink: sql); it owns the pool (its Close closes it).
func NewSink(c *Config, deps adapters.Deps) (*Sink, error) {
	a, err := build(c, deps, false)
	if err != nil {
		return nil, err
	}
	a.Sink.ownsDB = true
	return a.Sink, nil
}

// Adapter is one connection pool with its Source and (optional) Sink.
type Adapter struct {
	DB     *sql.DB
	Source *Source
	Sink   *Sink // nil when write_note.statement is empty (read-only)
}

// Close closes the connection pool.
func (a *Adapter) Close() error { return a.DB.Close() }

// New opens the pool (connecting lazily) and builds the Source and Sink; it fails if
// Validate reports problems.
func New(c *Config, deps adapters.Deps) (*Adapter, error) { return build(c, deps, true) }

// build opens the pool and makes the Sink, and the Source when withSource.
func build(c *Config, deps adapters.Deps, withSource bool) (*Adapter, error) {
	cc := *c
	if cc.DSN == "" && cc.DSNFile != "" {
		b, err := os.ReadFile(cc.DSNFile)
		if err != nil {
			return nil, fmt.Errorf("sql: dsn_file: %w", err)
		}
		cc.DSN = strings.TrimRight(string(b), "\r\n")
	}
	probs := Validate(&cc)
	if !withSource {
		probs = ValidateSink(&cc)
	}
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.Key + ": " + p.Msg
		}
		return nil, fmt.Errorf("sql: invalid config: %s", strings.Join(msgs, "; "))
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("adapter", Name)
	red := newRedactor(cc.Driver, cc.DSN)
	db, err := open(cc.Driver, cc.DSN, log, red)
	if err != nil {
		return nil, fmt.Errorf("sql: open %s: %s", RedactDSN(cc.Driver, cc.DSN), red.apply(err.Error()))
	}
	db.SetMaxOpenConns(cc.MaxOpenConns)
	db.SetMaxIdleConns(cc.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	a := &Adapter{DB: db}
	if withSource {
		query, _ := Rewrite(cc.Driver, cc.Poll.Query) // checked by Validate
		a.Source = &Source{db: db, poller: &poller{
			db: db, driver: cc.Driver, query: query, cfg: cc.Poll, timeout: cc.QueryTimeout, red: red, log: log,
			now: time.Now, tolerance: deps.CursorTolerance,
		}}
		if a.Source.run, err = adapters.PollSource(a.Source.Poll, cc.Poll.Schedule, deps.Cursor); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("sql: poll.schedule: %w", err) // cannot happen after Validate
		}
	}
	if cc.WriteNote.Statement != "" {
		stmt, _ := Rewrite(cc.Driver, cc.WriteNote.Statement)
		a.Sink = &Sink{db: db, driver: cc.Driver, stmt: stmt, target: statementTarget(cc.WriteNote.Statement),
			timeout: cc.QueryTimeout, red: red, log: log}
	} else if withSource && !deps.SourceOnly {
		log.Warn("cad.sql.write_note.statement is not set: the integration is read-only, notes are not written to the CAD")
	}
	log.Info("sql adapter ready", "driver", cc.Driver, "dsn", RedactDSN(cc.Driver, cc.DSN), "read_only", a.Sink == nil)
	return a, nil
}

// open opens the pool. The MySQL driver's own messages (e.g. "closing bad idle connection")
// go to the adapter's logger at warn level, with the password masked, instead of stderr.
func open(driver, dsn string, log *slog.Logger, red redactor) (*sql.DB, error) {
	if driver != DriverMySQL {
		return sql.Open(sqlDriver[driver], dsn)
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	mc.Logger = mysqlLogger{log: log, red: red}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

type mysqlLogger struct {
	log *slog.Logger
	red redactor
}

func (l mysqlLogger) Print(v ...any) {
	l.log.Warn("mysql driver: " + l.red.apply(strings.TrimSpace(fmt.Sprint(v...))))
}
