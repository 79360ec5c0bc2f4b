package sqldb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// DBError is a database's refusal of a query or statement. Error() names the operation,
// the statement's target, the SQLSTATE or error number (and the constraint, when the
// database names one) — never the database's message, which may echo the values bound
// (caller data); that message, with the DSN's password masked, is Evidence().
type DBError struct {
	Op         string // "poll" or "note for incident X"
	Target     string // the table or procedure the statement works on ("" = unknown)
	Code       string // "SQLSTATE 23505", "error 1062 (SQLSTATE 23000)", "error 2627"
	Constraint string
	Permanent  bool
	message    string
	err        error
}

func (e *DBError) Error() string {
	var b strings.Builder
	b.WriteString("sql: " + e.Op)
	if e.Target != "" {
		b.WriteString(": " + e.Target)
	}
	b.WriteString(": " + e.Code)
	if e.Constraint != "" {
		b.WriteString(" (constraint " + e.Constraint + ")")
	}
	if e.Permanent {
		b.WriteString(": refused by the database")
	}
	return b.String()
}

// Evidence is the database's own message (the password masked; may hold caller data).
func (e *DBError) Evidence() string { return e.message }

func (e *DBError) Unwrap() error { return e.err }

// redactedError is a driver error whose text had the DSN's password masked.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func wrapRedacted(r redactor, op string, err error) error {
	return &redactedError{msg: "sql: " + op + ": " + r.apply(err.Error()), err: err}
}

// classify turns a driver error into a DBError (database refusals) or a redacted error,
// marked delivery.Permanent or delivery.Transient. Cancellation is returned wrapped as is.
func classify(r redactor, op, target string, err error) error {
	return classifyFor(r, op, target, err, false)
}

// classifyWrite is classify for a statement that binds a note's values: an error raised
// inside the driver (not a connection error) is a *DriverError, whose Error() cannot quote
// them (classifyDriver).
func classifyWrite(r redactor, op, target string, err error) error {
	return classifyFor(r, op, target, err, true)
}

func classifyFor(r redactor, op, target string, err error, bindsNote bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("sql: %s: %w", op, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return delivery.Transient(fmt.Errorf("sql: %s: query_timeout exceeded: %w", op, err))
	}
	if e := dbError(err); e != nil {
		e.Op, e.Target, e.message, e.err = op, target, r.apply(e.message), err
		if e.Permanent {
			return delivery.Permanent(e)
		}
		return delivery.Transient(e)
	}
	// Not an answer of the database: a lost or refused connection, a driver-side error.
	if bindsNote {
		return classifyDriver(r, op, target, err)
	}
	return delivery.Transient(wrapRedacted(r, op, err))
}

// permanentClasses are the SQLSTATE classes that retrying cannot fix: data exceptions,
// integrity constraint violations, invalid transaction state... and syntax errors or
// access rule violations (42: undefined table or column, insufficient privilege).
// Connection (08), authorization (28: a wrong password), resources (53), operator
// intervention (57) and rollbacks (40: deadlock, serialization) stay transient: they are
// outages the operator fixes, and nothing must be given up meanwhile.
var permanentClasses = map[string]bool{"0A": true, "21": true, "22": true, "23": true, "2B": true, "3F": true, "42": true, "44": true}

// Permanent SQL Server error numbers: 102 syntax, 201 missing procedure parameter, 207 invalid
// column, 208 invalid object, 229/230 permission denied, 245/8114 conversion, 515 NULL into a
// NOT NULL column, 547 FOREIGN KEY/CHECK, 2601/2627 duplicate key, 2628/8152 truncation,
// 2812 no such procedure, 8144 too many arguments.
var mssqlPermanent = map[int32]bool{102: true, 201: true, 207: true, 208: true, 229: true, 230: true, 245: true,
	8114: true, 515: true, 547: true, 2601: true, 2627: true, 2628: true, 8152: true, 2812: true, 8144: true}

func dbError(err error) *DBError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code := pe.Code
		return &DBError{Code: "SQLSTATE " + code, Constraint: pe.ConstraintName,
			Permanent: len(code) == 5 && permanentClasses[code[:2]], message: pe.Error() + detail(pe.Detail)}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		state := string(me.SQLState[:])
		return &DBError{Code: "error " + strconv.Itoa(int(me.Number)) + " (SQLSTATE " + state + ")",
			Permanent: permanentClasses[state[:2]] && me.Number != 1045, message: me.Message}
	}
	var se mssql.Error
	if errors.As(err, &se) {
		return &DBError{Code: "error " + strconv.Itoa(int(se.Number)), Permanent: mssqlPermanent[se.Number], message: se.Message}
	}
	return nil
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return " DETAIL: " + d
}

// targetRE finds what a statement works on: INSERT INTO x, UPDATE x, EXEC x, CALL x, FROM x.
var targetRE = regexp.MustCompile(`(?is)^\s*(?:(?:INSERT\s+(?:INTO\s+)?|UPDATE\s+|MERGE\s+(?:INTO\s+)?|DELETE\s+FROM\s+|EXEC(?:UTE)?\s+|CALL\s+)([\w.\[\]"` + "`" + `]+)|SELECT\b.*?\bFROM\s+([\w.\[\]"` + "`" + `]+))`)

// statementTarget is the table or procedure a statement names, for error messages.
func statementTarget(stmt string) string {
	m := targetRE.FindStringSubmatch(stmt)
	if m == nil {
		return ""
	}
	if m[1] != "" {
		return m[1]
	}
	return m[2]
}
