package sqldb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// Errors raised inside the driver while writing a note: an encode or type error is permanent with a generic
// Error(); a connection error is transient and keeps its text (hosts, not values); any
// other is transient with a generic Error(). The driver's text is the Evidence() of the
// generic ones, the password masked.
func TestClassifyDriverErrors(t *testing.T) {
	_, convErr := driver.DefaultParameterConverter.ConvertValue(struct{ Secret string }{"caller data"})
	_, dialErr := net.DialTimeout("tcp", "127.0.0.1:1", time.Second) // nothing listens on port 1
	if convErr == nil || dialErr == nil {
		t.Fatalf("setup: %v %v", convErr, dialErr)
	}
	r := redactor{secrets: []string{"pw-secret"}}
	tests := []struct {
		name      string
		err       error
		permanent bool
		generic   bool   // Error() has none of the driver's text; Evidence() has it
		evidence  string // a part of Evidence()
	}{
		{"pgx encode", fmt.Errorf("failed to encode args[4]: %w", errors.New(`unable to encode "caller data pw-secret" into binary format for int4 (OID 23): cannot find encode plan`)), true, true, "caller data"},
		{"database/sql conversion", fmt.Errorf("sql: converting argument $1 type: %w", convErr), true, true, "unsupported type"},
		{"connection refused", dialErr, false, false, ""},
		{"bad connection", fmt.Errorf("write: %w", driver.ErrBadConn), false, false, ""},
		{"something else", errors.New("driver: caller data pw-secret went wrong"), false, true, "caller data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyWrite(r, "note for incident INC-1", "comments", tc.err)
			if delivery.IsPermanent(err) != tc.permanent {
				t.Fatalf("%v: permanent %v, want %v", err, delivery.IsPermanent(err), tc.permanent)
			}
			msg := err.Error()
			if strings.Contains(msg, "pw-secret") {
				t.Fatalf("the password in %q", msg)
			}
			if !strings.HasPrefix(msg, "sql: note for incident INC-1") {
				t.Errorf("Error() = %q: want the operation", msg)
			}
			var ev interface{ Evidence() string }
			hasEv := errors.As(err, &ev)
			if !tc.generic {
				if hasEv {
					t.Errorf("a connection error with evidence: %q", ev.Evidence())
				}
				return
			}
			if strings.Contains(msg, "caller data") || !strings.Contains(msg, "comments") {
				t.Errorf("Error() = %q: want generic text naming the table", msg)
			}
			if !hasEv || !strings.Contains(ev.Evidence(), tc.evidence) || strings.Contains(ev.Evidence(), "pw-secret") {
				t.Errorf("Evidence of %q: want the driver's text, password masked", msg)
			}
		})
	}
}

// A poll binds no note: its driver errors keep their (redacted) text, transient.
func TestClassifyPollDriverError(t *testing.T) {
	err := classify(redactor{secrets: []string{"pw"}}, "poll", "incidents", errors.New("driver: odd answer, pw"))
	if delivery.IsPermanent(err) || err.Error() != "sql: poll: driver: odd answer, ***" {
		t.Fatalf("err = %q (permanent %v)", err, delivery.IsPermanent(err))
	}
}
