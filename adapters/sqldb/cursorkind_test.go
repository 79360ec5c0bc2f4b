package sqldb_test

import (
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// tolerance is cad.cursor_tolerance as the sidecar gives it (its default).
const tolerance = 5 * time.Minute

func newAdapterTol(t *testing.T, c *sqldb.Config) *sqldb.Adapter {
	t.Helper()
	a, err := sqldb.New(c, adapters.Deps{CursorTolerance: tolerance})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// judged is how the sidecar judges a batch's cursor: true = refused as in the future.
func judged(b adapters.Batch) bool {
	ref := time.Now()
	if !b.Clock.IsZero() {
		ref = b.Clock
	}
	_, f := adapters.CursorInFuture(b.Cursor, b.CursorKind, ref, tolerance)
	return f
}

// TestPollSequenceCursorKind: an integer cursor — 5000000000 ("2128" read as Unix
// seconds) or a rowversion-like 50000000000000 ("3554" as milliseconds) — and a text cursor
// are sequences: reported so, never judged, and they advance.
func TestPollSequenceCursorKind(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20))",
			"INSERT INTO incidents VALUES (4999999999, 'A'), (5000000000, 'B')")
		c := base(srv, db)
		c.Poll.Query = "SELECT seq, id FROM incidents WHERE seq > :cursor ORDER BY seq"
		c.Poll.CursorColumn = "seq"
		a := newAdapterTol(t, c)
		b := poll(t, a, "")
		if ids(b.Records, "id") != "A,B" || b.Cursor != "5000000000" || b.CursorKind != adapters.CursorSequence || b.FutureCursor != "" || judged(b) {
			t.Fatalf("first poll = %s cursor %q kind %q future %q", ids(b.Records, "id"), b.Cursor, b.CursorKind, b.FutureCursor)
		}
		if b.CursorFrom != 2 {
			t.Errorf("CursorFrom = %d, want 2 (B)", b.CursorFrom)
		}
		srv.Exec(t, db, "INSERT INTO incidents VALUES (50000000000000, 'ROWVERSION')")
		b = poll(t, a, b.Cursor)
		if ids(b.Records, "id") != "ROWVERSION" || b.Cursor != "50000000000000" || b.CursorKind != adapters.CursorSequence || judged(b) {
			t.Fatalf("second poll = %s cursor %q kind %q", ids(b.Records, "id"), b.Cursor, b.CursorKind)
		}
		// After a restart the type is told from the stored cursor's form: still a sequence.
		b = poll(t, newAdapterTol(t, c), b.Cursor)
		if len(b.Records) != 0 || b.Cursor != "50000000000000" || b.CursorKind != adapters.CursorSequence {
			t.Fatalf("poll after a restart = %s cursor %q kind %q", ids(b.Records, "id"), b.Cursor, b.CursorKind)
		}

		srv.Exec(t, db, "CREATE TABLE events (token VARCHAR(30) PRIMARY KEY, id VARCHAR(20))",
			"INSERT INTO events VALUES ('5000000000', 'T')")
		c.Poll.Query = "SELECT token, id FROM events WHERE token > :cursor ORDER BY token"
		c.Poll.CursorColumn = "token"
		c.Poll.CursorType = sqldb.CursorText
		if b = poll(t, newAdapterTol(t, c), ""); b.Cursor != "5000000000" || b.CursorKind != adapters.CursorSequence || judged(b) {
			t.Fatalf("text cursor %q kind %q", b.Cursor, b.CursorKind)
		}
	})
}

// TestPollFutureCursor: a row stamped in the future (a wrong clock, a test record dated
// 2099) is still a record, but its time does not become the cursor: the cursor advances
// over the sane rows, and the skipped value is reported with the record that carried it.
// With group_by the record is the group's.
func TestPollFutureCursor(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20), updated "+ts(srv.Kind)+" NOT NULL)",
			"INSERT INTO incidents VALUES ('A', '2026-03-01 10:00:00'), ('WRONG-CLOCK', '2099-01-01 00:00:00'), ('B', '2026-03-01 11:00:00')")
		c := base(srv, db)
		c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY updated"
		c.Poll.CursorColumn = "updated"
		a := newAdapterTol(t, c)
		b := poll(t, a, "")
		if ids(b.Records, "id") != "A,B,WRONG-CLOCK" || b.Cursor != "2026-03-01T11:00:00Z" || b.CursorFrom != 2 || b.CursorKind != adapters.CursorTime {
			t.Fatalf("poll = %s cursor %q from %d kind %q, want every record and the cursor at B", ids(b.Records, "id"), b.Cursor, b.CursorFrom, b.CursorKind)
		}
		if b.FutureCursor != "2099-01-01T00:00:00Z" || b.FutureFrom != 3 || judged(b) {
			t.Fatalf("future %q from %d, want 2099 from record 3", b.FutureCursor, b.FutureFrom)
		}
		// The next poll advances again over a new sane row, and reports 2099 again.
		srv.Exec(t, db, "INSERT INTO incidents VALUES ('C', '2026-03-01 12:00:00')")
		b = poll(t, a, b.Cursor)
		if ids(b.Records, "id") != "C,WRONG-CLOCK" || b.Cursor != "2026-03-01T12:00:00Z" || b.FutureCursor != "2099-01-01T00:00:00Z" || b.FutureFrom != 2 {
			t.Fatalf("second poll = %s cursor %q future %q from %d", ids(b.Records, "id"), b.Cursor, b.FutureCursor, b.FutureFrom)
		}
		// The same with one record per incident.
		srv.Exec(t, db, "INSERT INTO incidents VALUES ('WRONG-CLOCK', '2026-03-01 12:30:00')")
		c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY id, updated"
		c.Poll.GroupBy = "id"
		b = poll(t, newAdapterTol(t, c), "2026-03-01T11:30:00Z")
		if ids(b.Records, "id") != "C,WRONG-CLOCK" || b.Cursor != "2026-03-01T12:30:00Z" || b.CursorFrom != 2 || b.FutureCursor != "2099-01-01T00:00:00Z" || b.FutureFrom != 2 {
			t.Fatalf("grouped poll = %s cursor %q from %d future %q from %d", ids(b.Records, "id"), b.Cursor, b.CursorFrom, b.FutureCursor, b.FutureFrom)
		}
		// cad.cursor_tolerance 0 turns the check off.
		a0 := newAdapter(t, c)
		if b = poll(t, a0, "2026-03-01T11:30:00Z"); b.Cursor != "2099-01-01T00:00:00Z" || b.FutureCursor != "" {
			t.Fatalf("tolerance 0: cursor %q future %q", b.Cursor, b.FutureCursor)
		}
	})
}

// TestPollFutureCursorLocalClock: a zone-less column holds the CAD's local time, here a
// session 9 hours ahead of UTC (a PSAP in Tokyo): a row written now is not in the future
// (it is judged on the database's clock, given in Batch.Clock), one written a day ahead is.
func TestPollFutureCursorLocalClock(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		if srv.Kind == dbtest.KindSQLServer {
			t.Skip("SKIP-OK: SQL Server has no session time zone to set")
		}
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, updated "+ts(srv.Kind)+" NOT NULL)")
		c := base(srv, db)
		now, tomorrow := "LOCALTIMESTAMP", "LOCALTIMESTAMP + INTERVAL '1 day'"
		if srv.Kind == dbtest.KindPostgres {
			c.DSN += "&timezone=Asia/Tokyo"
		} else {
			c.DSN += "&time_zone=%27%2B09%3A00%27"
			now, tomorrow = "NOW(6)", "NOW(6) + INTERVAL 1 DAY"
		}
		c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY updated"
		c.Poll.CursorColumn = "updated"
		a := newAdapterTol(t, c)
		if _, err := a.DB.Exec("INSERT INTO incidents VALUES ('NOW', " + now + ")"); err != nil {
			t.Fatal(err)
		}
		b := poll(t, a, "")
		if ids(b.Records, "id") != "NOW" || b.CursorFrom != 1 || b.FutureCursor != "" || b.Clock.IsZero() || judged(b) {
			t.Fatalf("poll = %s cursor %q from %d future %q clock %v", ids(b.Records, "id"), b.Cursor, b.CursorFrom, b.FutureCursor, b.Clock)
		}
		if _, err := a.DB.Exec("INSERT INTO incidents VALUES ('TOMORROW', " + tomorrow + ")"); err != nil {
			t.Fatal(err)
		}
		b2 := poll(t, a, b.Cursor)
		if ids(b2.Records, "id") != "TOMORROW" || b2.Cursor != b.Cursor || b2.FutureCursor == "" || b2.FutureFrom != 1 || judged(b2) {
			t.Fatalf("poll = %s cursor %q (was %q) future %q from %d", ids(b2.Records, "id"), b2.Cursor, b.Cursor, b2.FutureCursor, b2.FutureFrom)
		}
	})
}
