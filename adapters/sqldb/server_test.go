package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// ts is the column type of a timestamp cursor on each server.
func ts(kind string) string {
	switch kind {
	case dbtest.KindPostgres:
		return "TIMESTAMP(6)"
	case dbtest.KindSQLServer:
		return "DATETIME2(6)"
	}
	return "DATETIME(6)"
}

// base is a valid config for srv's database db.
func base(srv *dbtest.Server, db string) *sqldb.Config {
	c := sqldb.NewConfig()
	c.Driver = srv.Kind
	c.DSN = srv.DSN(db)
	c.QueryTimeout = 30 * time.Second
	return c
}

func newAdapterB(c *sqldb.Config) (*sqldb.Adapter, error) { return sqldb.New(c, adapters.Deps{}) }

func newAdapter(t *testing.T, c *sqldb.Config) *sqldb.Adapter {
	t.Helper()
	a, err := sqldb.New(c, adapters.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func poll(t *testing.T, a *sqldb.Adapter, cursor string) adapters.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := a.Source.Poll(ctx, cursor)
	if err != nil {
		t.Fatalf("Poll(%q): %v", cursor, err)
	}
	return b
}

func ids(recs []adapters.Record, col string) string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprint(r[col]))
	}
	return strings.Join(out, ",")
}

// forEachServer runs fn on PostgreSQL and MariaDB (and SQL Server when
// CAD_SIDECAR_TEST_MSSQL_DSN names one), each time in a fresh database.
func forEachServer(t *testing.T, fn func(t *testing.T, srv *dbtest.Server, db string)) {
	for _, kind := range dbtest.Available() {
		t.Run(kind, func(t *testing.T) {
			srv := dbtest.Shared(t, kind)
			fn(t, srv, srv.NewDatabase(t))
		})
	}
}

// TestPollTimestampOverlap: a timestamp cursor advances to the largest value; a row
// committed late with a time inside the overlap window is seen by the next poll, one older
// than the window is not; the cursor never moves back.
func TestPollTimestampOverlap(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, status VARCHAR(10), updated "+ts(srv.Kind)+" NOT NULL)",
			"INSERT INTO incidents VALUES ('A', 'OPEN', '2026-03-01 10:00:00'), ('B', 'OPEN', '2026-03-01 10:00:01.250')")
		c := base(srv, db)
		c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY updated, id"
		c.Poll.CursorColumn = "updated"
		c.Poll.Overlap = 30 * time.Second
		a := newAdapter(t, c)

		b := poll(t, a, "")
		if got := ids(b.Records, "id"); got != "A,B" {
			t.Fatalf("first poll = %s", got)
		}
		if b.Cursor != "2026-03-01T10:00:01.25Z" {
			t.Fatalf("cursor = %q", b.Cursor)
		}
		if _, ok := b.Records[0]["updated"].(time.Time); !ok {
			t.Errorf("updated is %T, want time.Time", b.Records[0]["updated"])
		}
		// A late commit inside the overlap, and one older than it.
		srv.Exec(t, db, "INSERT INTO incidents VALUES ('LATE', 'OPEN', '2026-03-01 10:00:00.500'), ('OLD', 'OPEN', '2026-03-01 09:00:00')")
		b2 := poll(t, a, b.Cursor)
		if got := ids(b2.Records, "id"); got != "A,LATE,B" {
			t.Fatalf("second poll = %s, want A,LATE,B (the overlap re-reads, OLD is outside it)", got)
		}
		if b2.Cursor != b.Cursor {
			t.Fatalf("cursor moved to %q, want it kept at %q", b2.Cursor, b.Cursor)
		}
		srv.Exec(t, db, "INSERT INTO incidents VALUES ('C', 'OPEN', '2026-03-01 11:00:00')")
		if b3 := poll(t, a, b2.Cursor); b3.Cursor != "2026-03-01T11:00:00Z" {
			t.Fatalf("cursor = %q after a newer row", b3.Cursor)
		}
	})
}

// TestPollIntegerCursor: an integer cursor is bound as an integer; start: beginning reads
// everything, the next poll only the newer rows.
func TestPollIntegerCursor(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20))",
			"INSERT INTO incidents VALUES (5, 'A'), (9, 'B')")
		c := base(srv, db)
		c.Poll.Query = "SELECT seq, id FROM incidents WHERE seq > :cursor ORDER BY seq"
		c.Poll.CursorColumn = "seq"
		c.Poll.Overlap = time.Hour // does not apply to integers
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if ids(b.Records, "id") != "A,B" || b.Cursor != "9" {
			t.Fatalf("first poll = %s cursor %q", ids(b.Records, "id"), b.Cursor)
		}
		srv.Exec(t, db, "INSERT INTO incidents VALUES (10, 'C')")
		b = poll(t, a, b.Cursor)
		if ids(b.Records, "id") != "C" || b.Cursor != "10" {
			t.Fatalf("second poll = %s cursor %q", ids(b.Records, "id"), b.Cursor)
		}
		if b = poll(t, a, b.Cursor); len(b.Records) != 0 || b.Cursor != "10" {
			t.Fatalf("idle poll = %d records cursor %q", len(b.Records), b.Cursor)
		}
	})
}

// TestPollStartNow: start: now links nothing that changed before the sidecar started.
func TestPollStartNow(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20))",
			"INSERT INTO incidents VALUES (5, 'A')")
		c := base(srv, db)
		c.Poll.Query = "SELECT seq, id FROM incidents WHERE seq > :cursor ORDER BY seq"
		c.Poll.CursorColumn = "seq"
		c.Poll.Start = sqldb.StartNow
		c.Poll.CursorType = sqldb.CursorInteger
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if len(b.Records) != 0 || b.Cursor != "5" {
			t.Fatalf("first poll = %d records cursor %q, want none and 5", len(b.Records), b.Cursor)
		}
		srv.Exec(t, db, "INSERT INTO incidents VALUES (6, 'B')")
		if b = poll(t, a, b.Cursor); ids(b.Records, "id") != "B" {
			t.Fatalf("second poll = %s", ids(b.Records, "id"))
		}
	})
}

// TestPollGroupBy: several comment rows per incident become one record per incident with
// every row under "rows".
func TestPollGroupBy(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db,
			"CREATE TABLE inc (id INTEGER PRIMARY KEY, nature VARCHAR(20), updated "+ts(srv.Kind)+")",
			"CREATE TABLE com (inc_id INTEGER, seq INTEGER, comment VARCHAR(100))",
			"INSERT INTO inc VALUES (1, 'FIRE', '2026-03-01 10:00:00'), (2, 'EMS', '2026-03-01 10:00:05'), (3, 'POLICE', '2026-03-01 10:00:09')",
			"INSERT INTO com VALUES (1, 1, 'smoke'), (1, 2, 'flames'), (1, 3, 'trapped'), (2, 1, 'fall'), (3, 1, 'noise')")
		c := base(srv, db)
		c.Poll.Query = "SELECT i.id, i.nature, i.updated, c.seq, c.comment FROM inc i LEFT JOIN com c ON c.inc_id = i.id WHERE i.updated > :cursor ORDER BY i.updated, c.seq"
		c.Poll.CursorColumn = "updated"
		c.Poll.GroupBy = "id"
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if len(b.Records) != 3 {
			t.Fatalf("%d records, want 3", len(b.Records))
		}
		rows, _ := b.Records[0]["rows"].([]any)
		var comments []string
		for _, r := range rows {
			comments = append(comments, fmt.Sprint(r.(map[string]any)["comment"]))
		}
		if b.Records[0]["nature"] != "FIRE" || strings.Join(comments, ";") != "smoke;flames;trapped" {
			t.Fatalf("record 0 = %v", b.Records[0])
		}
		if r1, _ := b.Records[1]["rows"].([]any); len(r1) != 1 {
			t.Fatalf("record 1 rows = %v", b.Records[1]["rows"])
		}
		if b.Cursor != "2026-03-01T10:00:09Z" {
			t.Fatalf("cursor %q", b.Cursor)
		}
	})
}

// TestPollProcedure: the poll can be a set-returning function (PostgreSQL) or a stored
// procedure (MariaDB: CALL) taking :cursor.
func TestPollProcedure(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, updated "+ts(srv.Kind)+" NOT NULL)",
			"INSERT INTO incidents VALUES ('A', '2026-03-01 10:00:00'), ('B', '2026-03-01 10:00:01')")
		c := base(srv, db)
		c.Poll.CursorColumn = "updated"
		c.Poll.CursorType = sqldb.CursorTimestamp
		if srv.Kind == dbtest.KindPostgres {
			srv.Exec(t, db, `CREATE FUNCTION assist_incidents(since TIMESTAMP) RETURNS SETOF incidents AS $$
				SELECT * FROM incidents WHERE updated > since ORDER BY updated $$ LANGUAGE sql STABLE`)
			c.Poll.Query = "SELECT * FROM assist_incidents(:cursor)"
		} else if srv.Kind == dbtest.KindSQLServer {
			srv.Exec(t, db, `CREATE PROCEDURE assist_incidents @since DATETIME2(6) AS
				SELECT * FROM incidents WHERE updated > @since ORDER BY updated`)
			c.Poll.Query = "EXEC assist_incidents @since = :cursor"
		} else {
			srv.Exec(t, db, `CREATE PROCEDURE assist_incidents(IN since DATETIME(6))
				SELECT * FROM incidents WHERE updated > since ORDER BY updated`)
			c.Poll.Query = "CALL assist_incidents(:cursor)"
		}
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if ids(b.Records, "id") != "A,B" || b.Cursor != "2026-03-01T10:00:01Z" {
			t.Fatalf("poll = %s cursor %q", ids(b.Records, "id"), b.Cursor)
		}
		srv.Exec(t, db, "INSERT INTO incidents VALUES ('C', '2026-03-01 10:00:02')")
		if b = poll(t, a, b.Cursor); ids(b.Records, "id") != "C" {
			t.Fatalf("second poll = %s", ids(b.Records, "id"))
		}
	})
}

// TestPollBadColumn: a cursor_column the query does not return is a permanent error that
// names it and the columns there are.
func TestPollBadColumn(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20), updated "+ts(srv.Kind)+")")
		c := base(srv, db)
		c.Poll.Query = "SELECT id FROM incidents WHERE updated > :cursor"
		c.Poll.CursorColumn = "updated"
		a := newAdapter(t, c)
		_, err := a.Source.Poll(context.Background(), "")
		if err == nil || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), `"updated" is not a column`) {
			t.Fatalf("err = %v", err)
		}
		c.Poll.Query = "SELECT * FROM no_such_table WHERE updated > :cursor"
		a = newAdapter(t, c)
		_, err = a.Source.Poll(context.Background(), "2026-03-01T00:00:00Z")
		if err == nil || !delivery.IsPermanent(err) {
			t.Fatalf("missing table: err = %v, want permanent", err)
		}
	})
}

// TestPollBacklog: 50,000 changed rows in one poll arrive complete, in order.
func TestPollBacklog(t *testing.T) {
	const n = 50000
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20), nature VARCHAR(40))")
		if srv.Kind == dbtest.KindPostgres {
			srv.Exec(t, db, fmt.Sprintf("INSERT INTO incidents SELECT g, 'I' || g, 'NATURE ' || (g %% 17) FROM generate_series(1, %d) g", n))
		} else if srv.Kind == dbtest.KindSQLServer {
			srv.Exec(t, db, fmt.Sprintf(`WITH g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %d)
				INSERT INTO incidents SELECT x, CONCAT('I', x), CONCAT('NATURE ', x %% 17) FROM g OPTION (MAXRECURSION 0)`, n))
		} else {
			srv.Exec(t, db, fmt.Sprintf(`SET SESSION max_recursive_iterations = 100000; INSERT INTO incidents WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %d)
				SELECT x, CONCAT('I', x), CONCAT('NATURE ', x %% 17) FROM g`, n))
		}
		c := base(srv, db)
		c.Poll.Query = "SELECT * FROM incidents WHERE seq > :cursor ORDER BY seq"
		c.Poll.CursorColumn = "seq"
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if len(b.Records) != n || b.Cursor != fmt.Sprint(n) {
			t.Fatalf("%d records cursor %q", len(b.Records), b.Cursor)
		}
		for i, r := range b.Records {
			if r["id"] != fmt.Sprintf("I%d", i+1) {
				t.Fatalf("record %d = %v", i, r)
			}
		}
	})
}

const noteTable = `CREATE TABLE comments (
	id %s,
	incident_no VARCHAR(40) NOT NULL REFERENCES incidents(id),
	call_id VARCHAR(40), user_id VARCHAR(40), note_type VARCHAR(20), note TEXT, text TEXT,
	critical %s, created_at %s, note_key VARCHAR(100) UNIQUE)`

func noteSchema(srv *dbtest.Server, db string, t *testing.T) {
	idCol, boolCol, table := "SERIAL PRIMARY KEY", "BOOLEAN", noteTable
	switch srv.Kind {
	case dbtest.KindMariaDB:
		idCol = "INTEGER AUTO_INCREMENT PRIMARY KEY"
	case dbtest.KindSQLServer:
		idCol, boolCol, table = "INTEGER IDENTITY PRIMARY KEY", "BIT", strings.ReplaceAll(noteTable, " TEXT", " NVARCHAR(MAX)")
	}
	srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(40) PRIMARY KEY)", "INSERT INTO incidents VALUES ('INC-1'), ('INC-2')",
		fmt.Sprintf(table, idCol, boolCol, ts(srv.Kind)))
}

const insertNote = "INSERT INTO comments (incident_no, call_id, user_id, note_type, note, text, critical, created_at, note_key) " +
	"VALUES (:incident_id, :call_id, :user_id, :type, :note, :text, :critical, :created_at, :key)"

func testNote(incident, key string) adapters.Note {
	return adapters.Note{IncidentID: incident, CallID: "call-7", UserID: "CT042", Type: "INFO", Note: "caller's: 'quoted' -- text",
		Critical: true, CreatedAt: "2026-03-01T10:00:02.5Z", Text: "[Assist CRITICAL] caller's: 'quoted' -- text", Key: key}
}

// TestWriteNote: every note parameter lands in its column, typed.
func TestWriteNote(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		noteSchema(srv, db, t)
		c := base(srv, db)
		c.Poll.Query = "SELECT * FROM incidents"
		c.WriteNote.Statement = insertNote
		a := newAdapter(t, c)
		n := testNote("INC-1", "key-1")
		if err := a.Sink.WriteNote(context.Background(), n); err != nil {
			t.Fatalf("WriteNote: %v", err)
		}
		var got adapters.Note
		var created time.Time
		err := a.DB.QueryRow("SELECT incident_no, call_id, user_id, note_type, note, text, critical, created_at, note_key FROM comments").
			Scan(&got.IncidentID, &got.CallID, &got.UserID, &got.Type, &got.Note, &got.Text, &got.Critical, &created, &got.Key)
		if err != nil {
			t.Fatal(err)
		}
		got.CreatedAt = created.UTC().Format(time.RFC3339Nano)
		if got != n {
			t.Fatalf("stored %+v\nwant   %+v", got, n)
		}
	})
}

// TestWriteNoteRefused: a constraint violation (unknown incident, duplicate key) is
// permanent; Error() names the code and table but not the values, Evidence() has the
// database's message. The next good note is written.
func TestWriteNoteRefused(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		noteSchema(srv, db, t)
		c := base(srv, db)
		c.Poll.Query = "SELECT * FROM incidents"
		c.WriteNote.Statement = insertNote
		a := newAdapter(t, c)
		ctx := context.Background()
		for name, n := range map[string]adapters.Note{
			"unknown incident": testNote("NO-SUCH-INCIDENT", "key-x"),
		} {
			err := a.Sink.WriteNote(ctx, n)
			if err == nil || !delivery.IsPermanent(err) {
				t.Fatalf("%s: err = %v, want permanent", name, err)
			}
			var ev interface{ Evidence() string }
			if !errors.As(err, &ev) || ev.Evidence() == "" {
				t.Fatalf("%s: no Evidence on %v", name, err)
			}
			if strings.Contains(err.Error(), "quoted") || strings.Contains(err.Error(), "Key (") {
				t.Errorf("%s: Error() = %q carries values", name, err)
			}
			code := map[string]string{dbtest.KindPostgres: "SQLSTATE 23503", dbtest.KindMariaDB: "error 1452 (SQLSTATE 23000)", dbtest.KindSQLServer: "error 547"}[srv.Kind]
			if !strings.Contains(err.Error(), "comments") || !strings.Contains(err.Error(), code) {
				t.Errorf("%s: Error() = %q, want the table and the SQLSTATE", name, err)
			}
			t.Logf("%s: Error()=%q Evidence()=%q", name, err, ev.Evidence())
		}
		if err := a.Sink.WriteNote(ctx, testNote("INC-2", "key-2")); err != nil {
			t.Fatalf("the good note after: %v", err)
		}
		err := a.Sink.WriteNote(ctx, testNote("INC-2", "key-2"))
		if err == nil || !delivery.IsPermanent(err) {
			t.Fatalf("duplicate key: err = %v, want permanent", err)
		}
	})
}

// TestServerGoneAndBack: with the database stopped, polls and notes fail transient (and
// the DSN's password is in no message); once it is back both work again.
func TestServerGoneAndBack(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := dbtest.Start(t, kind)
			db := srv.NewDatabase(t)
			noteSchema(srv, db, t)
			c := base(srv, db)
			c.QueryTimeout = 5 * time.Second
			c.Poll.Query = "SELECT * FROM incidents WHERE id > :cursor ORDER BY id"
			c.Poll.CursorColumn = "id"
			c.Poll.CursorType = sqldb.CursorText
			c.WriteNote.Statement = insertNote
			a := newAdapter(t, c)
			if b := poll(t, a, ""); len(b.Records) != 2 {
				t.Fatalf("poll = %d records", len(b.Records))
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, perr := a.Source.Poll(ctx, "")
			nerr := a.Sink.WriteNote(ctx, testNote("INC-1", "k1"))
			for what, err := range map[string]error{"poll": perr, "note": nerr} {
				if err == nil || delivery.IsPermanent(err) {
					t.Fatalf("%s with the server down: err = %v, want transient", what, err)
				}
				if strings.Contains(err.Error(), "test-secret") {
					t.Fatalf("%s: the password is in %q", what, err)
				}
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			if b := poll(t, a, ""); len(b.Records) != 2 {
				t.Fatalf("poll after restart = %d records", len(b.Records))
			}
			if err := a.Sink.WriteNote(ctx, testNote("INC-1", "k1")); err != nil {
				t.Fatalf("note after restart: %v", err)
			}
		})
	}
}

// TestPollTimestampAsText: MySQL without parseTime returns DATETIME columns as text; the
// cursor is still a time (stored as RFC 3339, bound as a time).
func TestPollTimestampAsText(t *testing.T) {
	srv := dbtest.MariaDB(t)
	db := srv.NewDatabase(t)
	srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, updated DATETIME(6) NOT NULL)",
		"INSERT INTO incidents VALUES ('A', '2026-03-01 10:00:00'), ('B', '2026-03-01 10:00:01.250')")
	c := base(srv, db)
	c.DSN = strings.Replace(c.DSN, "parseTime=true&", "", 1)
	c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY updated"
	c.Poll.CursorColumn = "updated"
	a := newAdapter(t, c)
	b := poll(t, a, "")
	if _, ok := b.Records[0]["updated"].(string); !ok || b.Cursor != "2026-03-01T10:00:01.25Z" {
		t.Fatalf("updated %T, cursor %q", b.Records[0]["updated"], b.Cursor)
	}
	srv.Exec(t, db, "INSERT INTO incidents VALUES ('C', '2026-03-01 10:00:02')")
	if b = poll(t, a, b.Cursor); ids(b.Records, "id") != "C" {
		t.Fatalf("second poll = %s", ids(b.Records, "id"))
	}
}

// TestPollQueryTimeout: a query running past query_timeout is cancelled and reported as a
// transient error naming query_timeout.
func TestPollQueryTimeout(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		c := base(srv, db)
		c.QueryTimeout = 300 * time.Millisecond
		c.Poll.Query = map[string]string{dbtest.KindPostgres: "SELECT pg_sleep(30)", dbtest.KindMariaDB: "SELECT SLEEP(30)",
			dbtest.KindSQLServer: "WAITFOR DELAY '00:00:30'; SELECT 1 AS x"}[srv.Kind]
		a := newAdapter(t, c)
		start := time.Now()
		_, err := a.Source.Poll(context.Background(), "")
		if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "query_timeout") {
			t.Fatalf("err = %v, want a transient query_timeout error", err)
		}
		if d := time.Since(start); d > 25*time.Second {
			t.Fatalf("the poll took %s: the timeout did not cancel it", d)
		}
	})
}

// TestPollWithoutCursorParam: a query without :cursor (a view of the open incidents) reads
// every row each time; the cursor is still the largest cursor_column value.
func TestPollWithoutCursorParam(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		srv.Exec(t, db, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20))",
			"INSERT INTO incidents VALUES (5, 'A'), (9, 'B')")
		c := base(srv, db)
		c.Poll.Query = "SELECT seq, id FROM incidents ORDER BY seq"
		c.Poll.CursorColumn = "seq"
		a := newAdapter(t, c)
		for _, cursor := range []string{"", "9"} {
			if b := poll(t, a, cursor); ids(b.Records, "id") != "A,B" || b.Cursor != "9" {
				t.Fatalf("poll(%q) = %s cursor %q", cursor, ids(b.Records, "id"), b.Cursor)
			}
		}
	})
}

// TestCheck: the dry run returns the query's columns and names, by key, a cursor column
// the query lacks, a note statement on a missing column (SQL Server too: the statement is
// run and rolled back, not only prepared), and a poll on a missing table.
func TestCheck(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		noteSchema(srv, db, t)
		c := base(srv, db)
		c.Poll.Query = "SELECT id FROM incidents WHERE id > :cursor"
		c.Poll.CursorColumn = "id"
		c.WriteNote.Statement = insertNote
		cols, probs := newAdapter(t, c).Check(context.Background())
		if strings.Join(cols, ",") != "id" || len(probs) != 0 {
			t.Fatalf("good config: columns %v, problems %v", cols, probs)
		}
		c.Poll.CursorColumn = "updated"
		c.WriteNote.Statement = "INSERT INTO comments (incident_no, no_such_column) VALUES (:incident_id, :text)"
		_, probs = newAdapter(t, c).Check(context.Background())
		keys := map[string]bool{}
		for _, p := range probs {
			keys[p.Key] = true
		}
		for _, k := range []string{"poll.cursor_column", "write_note.statement"} {
			if !keys[k] {
				t.Errorf("no problem at %s: %v", k, probs)
			}
		}
		c.Poll.Query = "SELECT * FROM no_such_view WHERE id > :cursor"
		c.WriteNote.Statement = ""
		if _, probs = newAdapter(t, c).Check(context.Background()); len(probs) != 1 || probs[0].Key != "poll.query" {
			t.Fatalf("missing view: %v", probs)
		}
	})
}

// TestPollStartNowLocalClock: a zone-less timestamp column holds the CAD's local time.
// start: now takes the database's clock (here a session behind UTC, as a PSAP in New
// York), so a row the CAD writes right after the sidecar started is read; the sidecar's
// UTC clock would have put the cursor hours ahead of it.
func TestPollStartNowLocalClock(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *dbtest.Server, db string) {
		if srv.Kind == dbtest.KindSQLServer {
			t.Skip("SKIP-OK: SQL Server has no session time zone to set")
		}
		srv.Exec(t, db, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, updated "+ts(srv.Kind)+" NOT NULL)",
			"INSERT INTO incidents VALUES ('OLD', '2026-03-01 10:00:00')")
		c := base(srv, db)
		local := "LOCALTIMESTAMP + INTERVAL '1 millisecond'"
		if srv.Kind == dbtest.KindPostgres {
			c.DSN += "&timezone=America/New_York"
		} else {
			c.DSN += "&time_zone=%27-05%3A00%27"
			local = "NOW(6) + INTERVAL 1000 MICROSECOND"
		}
		c.Poll.Query = "SELECT * FROM incidents WHERE updated > :cursor ORDER BY updated"
		c.Poll.CursorColumn = "updated"
		c.Poll.Start = sqldb.StartNow
		a := newAdapter(t, c)
		b := poll(t, a, "")
		if len(b.Records) != 0 || b.Cursor == "" {
			t.Fatalf("first poll = %d records cursor %q, want none and a cursor", len(b.Records), b.Cursor)
		}
		if _, err := a.DB.Exec("INSERT INTO incidents VALUES ('NEW', " + local + ")"); err != nil {
			t.Fatal(err)
		}
		if b2 := poll(t, a, b.Cursor); ids(b2.Records, "id") != "NEW" {
			t.Fatalf("second poll from %q = %q, want NEW", b.Cursor, ids(b2.Records, "id"))
		}
	})
}
