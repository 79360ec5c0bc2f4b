package sqldb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// A value the driver cannot encode for its parameter's type (pgx: a boolean bound to an
// INTEGER column) is refused inside the driver, not by the database: the error is
// permanent (a retry sends the same value), its Error() is generic — the driver's text,
// which quotes the value and could quote a note, is only its Evidence() — and the next good
// note is written.
func TestWriteNoteUnencodableValue(t *testing.T) {
	srv := dbtest.Postgres(t)
	db := srv.NewDatabase(t)
	noteSchema(srv, db, t)
	srv.Exec(t, db, "CREATE TABLE flags (incident_no VARCHAR(40), flag INTEGER)")
	c := base(srv, db)
	c.Poll.Query = "SELECT * FROM incidents"
	c.WriteNote.Statement = "INSERT INTO flags (incident_no, flag) VALUES (:incident_id, :critical)"
	a := newAdapter(t, c)
	ctx := context.Background()
	err := a.Sink.WriteNote(ctx, testNote("INC-1", "k1"))
	if err == nil || !delivery.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if msg := err.Error(); strings.Contains(msg, "unable to encode") || strings.Contains(msg, "true") ||
		!strings.Contains(msg, "note for incident INC-1") || !strings.Contains(msg, "flags") {
		t.Errorf("Error() = %q: want the operation and table, not the driver's text", msg)
	}
	var ev interface{ Evidence() string }
	if !errors.As(err, &ev) || !strings.Contains(ev.Evidence(), "unable to encode") {
		t.Fatalf("Evidence of %v: want the driver's text", err)
	}
	t.Logf("Error()=%q Evidence()=%q", err, ev.Evidence())

	c.WriteNote.Statement = "INSERT INTO flags (incident_no, flag) VALUES (:incident_id, 1)"
	if err := newAdapter(t, c).Sink.WriteNote(ctx, testNote("INC-1", "k2")); err != nil {
		t.Fatalf("a good note after: %v", err)
	}
}
