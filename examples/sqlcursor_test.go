package examples_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// sqlCursorEnv is the sidecar polling a small incidents table of a real PostgreSQL.
type sqlCursorEnv struct {
	s    *sidecar.Sidecar
	as   *sim.Assist
	srv  *dbtest.Server
	db   string
	reg  *prometheus.Registry
	logs *lockedBuffer
}

// startSQLCursor runs the sidecar in-process with cad.adapter: sql on table (created by
// schema), cursor column col, and the simulated Assist.
func startSQLCursor(t *testing.T, schema, col string) *sqlCursorEnv {
	t.Helper()
	srv := dbtest.Postgres(t)
	db := srv.NewDatabase(t)
	srv.Exec(t, db, schema, "CREATE TABLE comments (incident_id VARCHAR(40), text TEXT, key VARCHAR(200) PRIMARY KEY)")
	ctx, cancel := context.WithCancel(context.Background())
	const token = "test-assist-token"
	as := sim.NewAssist(sim.AssistOptions{Token: token, Seed: 7, NotesPerCall: 1, NoteEvery: 20 * time.Millisecond})
	as.Start(ctx)
	asSrv := httptest.NewServer(as)
	cfgText := fmt.Sprintf(`
data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: %s
  notes: pull
  pull: {schedule: "@every 1s"}
  webhook: {register: false, auth_token: test-webhook-auth-token-0123456789}
cad:
  adapter: sql
  sql:
    driver: postgres
    dsn: %q
    poll:
      schedule: "@every 1s"
      query: "SELECT * FROM incidents WHERE %[4]s > :cursor ORDER BY %[4]s"
      cursor_column: %[4]s
    write_note:
      statement: "INSERT INTO comments (incident_id, text, key) VALUES (:incident_id, :text, :key) ON CONFLICT (key) DO NOTHING"
mapping:
  incident_id: id
  user_id: {expr: '"CT1"'}
  fields:
    - {name: Status, from: status}
  note: {text: "{{.Note}}"}
outbox: {retry: {initial: 20ms, max: 200ms}}
`, asSrv.URL, token, srv.DSN(db), col)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	s, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		as.Close()
		asSrv.Close()
		if t.Failed() {
			t.Logf("sidecar log:\n%s", logs.String())
		}
	})
	return &sqlCursorEnv{s: s, as: as, srv: srv, db: db, reg: reg, logs: logs}
}

func (e *sqlCursorEnv) cursor(t *testing.T) string {
	t.Helper()
	v, _, err := e.s.Store().Get("cursor", "cad")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *sqlCursorEnv) rejected(t *testing.T) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cad_sidecar_cad_cursor_rejected_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestSQLSequenceCursorNotJudged: an integer cursor 5000000000 ("2128" read as Unix
// seconds) and a rowversion-like 50000000000000 ("3554" as milliseconds) are adopted by
// the sidecar, polling goes on from them, nothing is reported in the future, and /readyz's
// cad_cursor check stays ok. (Before, the sidecar read them as times and kept the cursor.)
func TestSQLSequenceCursorNotJudged(t *testing.T) {
	e := startSQLCursor(t, "CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id VARCHAR(20), status VARCHAR(10))", "seq")
	e.srv.Exec(t, e.db, "INSERT INTO incidents VALUES (4999999999, 'SEQ-1', 'OPEN'), (5000000000, 'SEQ-2', 'OPEN')")
	waitUntil(t, "the cursor 5000000000 adopted", func() bool { return e.cursor(t) == "5000000000" })
	waitUntil(t, "both incidents linked", func() bool { return len(e.as.Links()) == 2 })
	e.srv.Exec(t, e.db, "INSERT INTO incidents VALUES (50000000000000, 'ROWVERSION-1', 'OPEN')")
	waitUntil(t, "the cursor 50000000000000 adopted", func() bool { return e.cursor(t) == "50000000000000" })
	waitUntil(t, "the third incident linked", func() bool { return e.as.Links()["ROWVERSION-1"] != "" })
	if n := e.rejected(t); n != 0 {
		t.Fatalf("cad_cursor_rejected_total = %v, want 0", n)
	}
	if strings.Contains(e.logs.String(), "in the future") {
		t.Fatalf("a sequence cursor reported in the future:\n%s", e.logs.String())
	}
	info, err := sidecar.ReadCursor(e.s.Store(), 5*time.Minute)
	if err != nil || info.InFuture || info.Kind != "sequence" {
		t.Fatalf("cursor show: %+v, %v", info, err)
	}
}

// TestSQLTimestampInTheFuture: a row stamped 2099 is linked, the sane rows still advance
// the cursor, and the sidecar reports the skipped value (metric, WARN naming the incident).
func TestSQLTimestampInTheFuture(t *testing.T) {
	e := startSQLCursor(t, "CREATE TABLE incidents (id VARCHAR(20) PRIMARY KEY, status VARCHAR(10), updated TIMESTAMP(6) NOT NULL)", "updated")
	e.srv.Exec(t, e.db, "INSERT INTO incidents VALUES ('SANE-1', 'OPEN', '2026-03-01 10:00:00'), ('FUT-1', 'OPEN', '2099-01-01 00:00:00')")
	waitUntil(t, "the sane cursor adopted", func() bool { return e.cursor(t) == "2026-03-01T10:00:00Z" })
	waitUntil(t, "the skipped value counted", func() bool { return e.rejected(t) >= 1 })
	e.srv.Exec(t, e.db, "INSERT INTO incidents VALUES ('SANE-2', 'OPEN', '2026-03-01 11:00:00')")
	waitUntil(t, "the cursor advanced over the new sane row", func() bool { return e.cursor(t) == "2026-03-01T11:00:00Z" })
	waitUntil(t, "all three linked", func() bool { return len(e.as.Links()) == 3 })
	if !strings.Contains(e.logs.String(), `level=WARN msg="CAD cursor in the future not adopted" incident_id=FUT-1 cursor=2099-01-01T00:00:00Z`) {
		t.Fatalf("no WARN naming the incident:\n%s", e.logs.String())
	}
}
