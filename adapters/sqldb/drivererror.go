package sqldb

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// DriverError is an error raised inside the driver, not by the database, while writing a
// note (classifyWrite): a value it cannot encode for its parameter's type, or another
// failure of its own. Its text may quote the values bound (pgx: "unable to encode <value>
// into ..."), that is a note, so Error() names only the operation, the target and what kind
// of failure it was; the driver's text (the DSN's password masked) is Evidence().
type DriverError struct {
	Op     string // "note for incident X"
	Target string // the table or procedure ("" = unknown)
	// Encode: the driver could not turn a bound value into its parameter's type.
	Encode  bool
	message string
	err     error
}

func (e *DriverError) Error() string {
	var b strings.Builder
	b.WriteString("sql: " + e.Op)
	if e.Target != "" {
		b.WriteString(": " + e.Target)
	}
	if e.Encode {
		b.WriteString(": the driver cannot send a bound value as its parameter's type (the value in the evidence)")
	} else {
		b.WriteString(": driver error (its text in the evidence)")
	}
	return b.String()
}

// Evidence is the driver's own text (the password masked; may quote bound values).
func (e *DriverError) Evidence() string { return e.message }

func (e *DriverError) Unwrap() error { return e.err }

// classifyDriver classifies an error that is not a database's answer: a lost or refused
// connection is transient and keeps its (redacted) text, which names hosts, not values; an
// encode or type error is permanent (the same value fails again) and any other driver
// error transient, both as a *DriverError.
func classifyDriver(r redactor, op, target string, err error) error {
	encode := isEncodeError(err)
	if !encode && isConnError(err) {
		return delivery.Transient(wrapRedacted(r, op, err))
	}
	e := &DriverError{Op: op, Target: target, Encode: encode, message: r.apply(err.Error()), err: err}
	if e.Encode {
		return delivery.Permanent(e)
	}
	return delivery.Transient(e)
}

// isConnError reports a failure to reach or keep the database connection.
func isConnError(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed")
}

// isEncodeError reports a bound value the driver (or database/sql) cannot convert: pgx
// "failed to encode args[N]: unable to encode ...", database/sql "converting argument",
// "unsupported type".
func isEncodeError(err error) bool {
	s := err.Error()
	for _, m := range []string{"failed to encode args", "unable to encode", "cannot find encode plan", "converting argument", "unsupported type"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}
