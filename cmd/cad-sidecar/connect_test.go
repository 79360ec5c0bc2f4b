package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// connectConfig is a sql config for `validate --connect`: %[1]s driver, %[2]s DSN, %[3]s the
// poll query, %[4]s the note statement. mapping.fields[1].from (line 24) reads priority.
const connectConfig = `data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "https://sidecar.example.org"}
assist:
  base_url: https://assist.example.com/realtime/v1
  token: test-token
  webhook: {auth_token: test-secret-test-secret}
cad:
  adapter: sql
  sql:
    driver: %[1]s
    dsn: %[2]q
    query_timeout: 20s
    poll:
      query: %[3]q
      cursor_column: updated
      start: beginning
    write_note:
      statement: %[4]q
mapping:
  incident_id: incident_no
  user_id: {from: operator}
  fields:
    - {name: Problem, description: Problem, from: problem}
    - {name: Priority, description: Priority, from: priority}
    - {name: Summary, description: Summary, expr: 'problem + " (" + string(priority) + ")"'}
`

const (
	connectQuery = "SELECT incident_no, operator, problem, priority, updated FROM incidents WHERE updated > :cursor ORDER BY updated"
	connectNote  = "INSERT INTO comments (incident_no, text, critical, created_at) VALUES (:incident_id, :text, :critical, :created_at)"
)

// connectSchema creates the CAD's tables in db, and a login that may read both tables but
// write none; it returns that login's DSN.
func connectSchema(t *testing.T, srv *dbtest.Server, db string) (readerDSN string) {
	t.Helper()
	ts, serial := "TIMESTAMP(6)", "SERIAL PRIMARY KEY"
	if srv.Kind == dbtest.KindMariaDB {
		ts, serial = "DATETIME(6)", "INTEGER AUTO_INCREMENT PRIMARY KEY"
	}
	srv.Exec(t, db,
		"CREATE TABLE incidents (incident_no VARCHAR(20) PRIMARY KEY, operator VARCHAR(20), problem VARCHAR(60), priority INTEGER, updated "+ts+" NOT NULL)",
		"INSERT INTO incidents VALUES ('INC-1', 'CT042', 'FALL', 2, '2026-03-01 10:00:00'), ('INC-2', 'CT017', 'FIRE', 1, '2026-03-01 10:01:00')",
		"CREATE TABLE comments (id "+serial+", incident_no VARCHAR(20) NOT NULL, text TEXT NOT NULL, critical BOOLEAN NOT NULL, created_at "+ts+")",
		"INSERT INTO comments (incident_no, text, critical, created_at) VALUES ('INC-1', 'CAD comment', false, '2026-03-01 10:00:30')",
	)
	reader := "r" + db
	if srv.Kind == dbtest.KindPostgres {
		srv.Exec(t, db, "CREATE ROLE "+reader+" LOGIN PASSWORD 'reader-secret'",
			"GRANT SELECT ON incidents, comments TO "+reader)
		return strings.Replace(srv.DSN(db), "postgres:test-secret@", reader+":reader-secret@", 1)
	}
	srv.Exec(t, db, "CREATE USER '"+reader+"'@'%' IDENTIFIED BY 'reader-secret'",
		"GRANT SELECT ON "+db+".* TO '"+reader+"'@'%'")
	return strings.Replace(srv.DSN(db), "test:test-secret@", reader+":reader-secret@", 1)
}

func rowCounts(t *testing.T, srv *dbtest.Server, db string) string {
	t.Helper()
	c := srv.Open(t, db)
	var inc, com int
	if err := c.QueryRow("SELECT (SELECT COUNT(*) FROM incidents), (SELECT COUNT(*) FROM comments)").Scan(&inc, &com); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("incidents %d, comments %d", inc, com)
}

func validateConnectRun(t *testing.T, cfgText string) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := run([]string{"validate", "--connect", "--config", path}, nil, &out, &errb)
	return code, out.String() + errb.String()
}

// TestValidateConnectSQL: on real PostgreSQL and MariaDB, `validate --connect` passes a good
// config (the note statement runs and is rolled back: no row is added), names a column the
// mapping reads that the poll query lacks with the line that reads it, and names the
// database's code when the login may not write the notes table. Nothing is changed.
func TestValidateConnectSQL(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := dbtest.Shared(t, kind)
			db := srv.NewDatabase(t)
			readerDSN := connectSchema(t, srv, db)
			before := rowCounts(t, srv, db)

			code, out := validateConnectRun(t, fmt.Sprintf(connectConfig, kind, srv.DSN(db), connectQuery, connectNote))
			if code != exitOK || !strings.Contains(out, "cad.sql: connected ("+kind+"): the poll query returns 5 columns") ||
				!strings.Contains(out, "the note statement ran and was rolled back") {
				t.Fatalf("good config: exit %d\n%s", code, out)
			}

			noPriority := strings.Replace(connectQuery, "problem, priority,", "problem,", 1)
			code, out = validateConnectRun(t, fmt.Sprintf(connectConfig, kind, srv.DSN(db), noPriority, connectNote))
			want := `cad.sql.poll.query: the query's columns do not include "priority", which mapping.fields[1].from reads (config.yaml:24)`
			if code != exitProblems || !strings.Contains(out, want) || strings.Count(out, "cad.sql.") != 1 || strings.Contains(out, ": ok (") {
				t.Fatalf("query without priority: exit %d, want 2 and\n%s\ngot\n%s", code, want, out)
			}

			code, out = validateConnectRun(t, fmt.Sprintf(connectConfig, kind, readerDSN, connectQuery, connectNote))
			wantCode := "SQLSTATE 42501" // insufficient_privilege
			if kind == dbtest.KindMariaDB {
				wantCode = "error 1142" // INSERT command denied
			}
			if code != exitProblems || !strings.Contains(out, "cad.sql.write_note.statement: sql: note statement (rolled back): comments: "+wantCode) ||
				strings.Contains(out, "reader-secret") {
				t.Fatalf("read-only login: exit %d, want 2 naming %s\n%s", code, wantCode, out)
			}
			if !strings.Contains(out, "(config.yaml:18)") {
				t.Errorf("the note statement's problem does not point at its line 18:\n%s", out)
			}

			if after := rowCounts(t, srv, db); after != before {
				t.Fatalf("validate --connect changed the database: %s, was %s", after, before)
			}
		})
	}
}

// TestValidateConnectREST: for the rest adapter, --connect polls once (a GET of the poll
// path with the cursor ""); a CAD answering 500 is a problem naming the status, exit 2;
// without --connect nothing connects.
func TestValidateConnectREST(t *testing.T) {
	status := http.StatusOK
	var gets int
	cad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets++
		if r.Method != http.MethodGet {
			t.Errorf("%s %s, want only GETs", r.Method, r.URL.Path)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, `{"data":[{"IncidentNumber":"INC-1","updated":"1"}]}`)
	}))
	defer cad.Close()
	src, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.Replace(string(src), "http://cad.local/api", cad.URL+"/api", 1)
	if cfgText == string(src) {
		t.Skip("config.example.yaml has no cad.rest.base_url http://cad.local/api to point at the test CAD")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if code := run([]string{"validate", "--config", path}, nil, &out, &out); code != exitOK || gets != 0 {
		t.Fatalf("validate without --connect: exit %d, %d requests\n%s", code, gets, out.String())
	}
	out.Reset()
	if code := run([]string{"validate", "--connect", "--config", path}, nil, &out, &out); code != exitOK || gets != 1 ||
		!strings.Contains(out.String(), "cad.rest: connected: the first poll (cursor \"\") answered 1 records") {
		t.Fatalf("validate --connect: exit %d, %d requests\n%s", code, gets, out.String())
	}
	status = http.StatusInternalServerError
	out.Reset()
	if code := run([]string{"validate", "--connect", "--config", path}, nil, &out, &out); code != exitProblems ||
		!strings.Contains(out.String(), "cad.rest.poll: the first poll") || !strings.Contains(out.String(), "500") {
		t.Fatalf("CAD answering 500: exit %d\n%s", code, out.String())
	}
}

// TestValidateConnectExamples: each sql example's config passes `validate --connect`
// against its own schema.sql on a real PostgreSQL (the poll query has every column its
// mapping reads; the note statement runs and is rolled back), and leaves the database as
// it was.
func TestValidateConnectExamples(t *testing.T) {
	for dir, dsn := range map[string]string{
		"sql-centralsquare": "postgres://assist_reader@cad-reporting.local:5432/cad?sslmode=require",
		"sql-hexagon":       "postgres://assist_reader@icad-reporting.local:5432/icad?sslmode=require",
	} {
		t.Run(dir, func(t *testing.T) {
			srv := dbtest.Postgres(t)
			db := srv.NewDatabase(t)
			ex := filepath.Join("..", "..", "examples", dir)
			schema, err := os.ReadFile(filepath.Join(ex, "schema.sql"))
			if err != nil {
				t.Fatal(err)
			}
			srv.Exec(t, db, string(schema))
			counts := func() string { // exact row counts of every table
				c := srv.Open(t, db)
				rows, err := c.Query(`SELECT table_name FROM information_schema.tables
					WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for rows.Next() {
					var name string
					if err := rows.Scan(&name); err != nil {
						t.Fatal(err)
					}
					names = append(names, name)
				}
				rows.Close()
				var out []string
				for _, name := range names {
					var n int
					if err := c.QueryRow("SELECT COUNT(*) FROM " + name).Scan(&n); err != nil {
						t.Fatal(err)
					}
					out = append(out, fmt.Sprintf("%s=%d", name, n))
				}
				return strings.Join(out, " ")
			}
			raw, err := os.ReadFile(filepath.Join(ex, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			abs, err := filepath.Abs(filepath.Join(ex, "record.json"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := strings.NewReplacer(dsn, srv.DSN(db), "sample: record.json", "sample: "+abs).Replace(string(raw))
			if !strings.Contains(cfg, srv.DSN(db)) {
				t.Fatalf("%s/config.yaml has no DSN %s", dir, dsn)
			}
			before := counts()
			if !strings.Contains(before, "=") {
				t.Fatalf("no tables counted: %q", before)
			}
			code, out := validateConnectRun(t, cfg)
			if code != exitOK || !strings.Contains(out, "the note statement ran and was rolled back") {
				t.Fatalf("exit %d\n%s", code, out)
			}
			if after := counts(); after != before {
				t.Fatalf("rows changed: %s, was %s", after, before)
			}
		})
	}
}
