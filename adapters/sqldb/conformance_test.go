package sqldb_test

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/adaptertest"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// TestConformance runs the adapter conformance suite against real PostgreSQL and MariaDB
// servers (internal/dbtest; skipped without them unless CAD_SIDECAR_TEST_REQUIRE_DB is
// set). The reporting database: an incidents table with an integer change sequence as the
// cursor, and a comments table the note statement inserts into, whose foreign key to
// notes_allowed is how the CAD refuses an incident's notes for good.
func TestConformance(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Harness{Adapter: "sql", Start: func(t *testing.T, o adaptertest.Options) adaptertest.CAD {
				return startSQLCAD(t, kind, o)
			}})
		})
	}
}

// refusedBy is the constraint that refuses a note (its name is in the database's message).
const refusedBy = "comments_allowed_fk"

type sqlCAD struct {
	srv *dbtest.Server
	db  string
	sql *sql.DB

	mu       sync.Mutex
	seq, ids int
}

func startSQLCAD(t *testing.T, kind string, o adaptertest.Options) adaptertest.CAD {
	t.Helper()
	var srv *dbtest.Server
	if o.Downable {
		srv = dbtest.Start(t, kind) // stopped and started by the case: a server of its own
	} else {
		srv = dbtest.Shared(t, kind)
	}
	db := srv.NewDatabase(t)
	idCol := "BIGSERIAL PRIMARY KEY"
	if kind == dbtest.KindMariaDB {
		idCol = "BIGINT AUTO_INCREMENT PRIMARY KEY"
	}
	srv.Exec(t, db,
		"CREATE TABLE incidents (incident_no VARCHAR(40) PRIMARY KEY, nature VARCHAR(40), status VARCHAR(20) NOT NULL, seq BIGINT NOT NULL)",
		"CREATE TABLE notes_allowed (incident_no VARCHAR(40) PRIMARY KEY)",
		fmt.Sprintf("CREATE TABLE comments (id %s, incident_no VARCHAR(40) NOT NULL, text TEXT NOT NULL, note_key VARCHAR(200), "+
			"CONSTRAINT %s FOREIGN KEY (incident_no) REFERENCES notes_allowed (incident_no))", idCol, refusedBy))
	return &sqlCAD{srv: srv, db: db, sql: srv.Open(t, db)}
}

func (c *sqlCAD) Section(*testing.T) string {
	return fmt.Sprintf(`driver: %s
dsn: %q
query_timeout: 5s
poll:
  schedule: "@every 1s"
  query: "SELECT incident_no, nature, status, seq FROM incidents WHERE seq > :cursor ORDER BY seq"
  cursor_column: seq
  cursor_type: integer
write_note:
  statement: "INSERT INTO comments (incident_no, text, note_key) VALUES (:incident_id, :text, :key)"
`, c.srv.Kind, c.srv.DSN(c.db))
}

func (c *sqlCAD) Mapping(*testing.T) string {
	return `incident_id: incident_no
fields:
  - {name: Nature, from: nature, required: true}
  - {name: Status, from: status}
`
}

// next returns a new incident id and the next change sequence number.
func (c *sqlCAD) next() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	c.seq++
	return fmt.Sprintf("INC-%04d", c.ids), c.seq
}

func (c *sqlCAD) add(t *testing.T, nature string) string {
	id, seq := c.next()
	c.srv.Exec(t, c.db, fmt.Sprintf("INSERT INTO incidents VALUES ('%s', %s, 'OPEN', %d)", id, nature, seq),
		fmt.Sprintf("INSERT INTO notes_allowed VALUES ('%s')", id))
	return id
}

func (c *sqlCAD) Add(t *testing.T) string          { return c.add(t, "'FIRE'") }
func (c *sqlCAD) AddMalformed(t *testing.T) string { return c.add(t, "NULL") }
func (c *sqlCAD) TakesKey() bool                   { return true }

func (c *sqlCAD) Change(t *testing.T, id string) {
	_, seq := c.next()
	c.srv.Exec(t, c.db, fmt.Sprintf("UPDATE incidents SET status = 'S%d', seq = %d WHERE incident_no = '%s'", seq, seq, id))
}

// Notes reads the comments of incident id; a read error (the server just restarted) is
// logged and reads as none yet.
func (c *sqlCAD) Notes(t *testing.T, id string) []adaptertest.Note {
	rows, err := c.sql.Query(fmt.Sprintf("SELECT text, note_key FROM comments WHERE incident_no = '%s' ORDER BY id", id))
	if err != nil {
		t.Logf("read comments: %v", err)
		return nil
	}
	defer rows.Close()
	var out []adaptertest.Note
	for rows.Next() {
		var n adaptertest.Note
		var key sql.NullString
		if err := rows.Scan(&n.Text, &key); err != nil {
			t.Fatal(err)
		}
		n.Key = key.String
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Logf("read comments: %v", err)
		return nil
	}
	return out
}

func (c *sqlCAD) SetDown(t *testing.T, down bool) {
	t.Helper()
	var err error
	if down {
		err = c.srv.Stop()
	} else {
		err = c.srv.Start()
	}
	if err != nil {
		t.Fatalf("SetDown(%v): %v", down, err)
	}
}

func (c *sqlCAD) Refuse(t *testing.T, id string) string {
	c.srv.Exec(t, c.db, fmt.Sprintf("DELETE FROM notes_allowed WHERE incident_no = '%s'", id))
	return refusedBy
}
