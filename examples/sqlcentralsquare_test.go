package examples_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb" // cad.adapter: sql in the example configs
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSQLCentralSquareEndToEnd runs the sidecar in-process with the sql-centralsquare
// example against a real PostgreSQL loaded with its schema.sql and the simulated Assist:
// the open incidents are linked (the closed one is not, comments folded by group_by), and
// Assist's notes land in Response_Comments, each once.
func TestSQLCentralSquareEndToEnd(t *testing.T) {
	e := startCentralSquare(t, false)
	e.waitNotes(t, 6) // two open incidents, each 2 INFO notes + 1 CALL_COMPLETED
	as, db := e.as, e.db
	links := as.Links()
	if len(links) != 2 || links["FIRE-2026-000481"] == "" || links["EMS-2026-000482"] == "" {
		t.Fatalf("links = %v, want the two open incidents", links)
	}
	req, _ := as.LastLink("FIRE-2026-000481")
	var comments string
	for _, f := range req.Fields {
		if f.Name == "Comments" {
			comments = f.Value
		}
	}
	if comments != "2 VEH, 1 ROLLED OVER; DRIVER TRAPPED; FUEL LEAKING ONTO THE ROADWAY" {
		t.Errorf("Comments = %q", comments)
	}
	var perIncident string
	rows, err := db.Query(`SELECT m.Master_Incident_Number, COUNT(*), SUM(CASE WHEN c.Comment LIKE '[Assist%' THEN 1 ELSE 0 END)
		FROM Response_Comments c JOIN Response_Master_Incident m ON m.ID = c.Master_Incident_ID
		WHERE c.Comment_By = 'ASSIST' GROUP BY m.Master_Incident_Number ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var inc string
		var n, rendered int
		if err := rows.Scan(&inc, &n, &rendered); err != nil {
			t.Fatal(err)
		}
		perIncident += fmt.Sprintf("%s:%d/%d ", inc, n, rendered)
	}
	if perIncident != "2026-000481:3/3 2026-000482:3/3 " {
		t.Errorf("Assist notes per incident = %q", perIncident)
	}

	// The overlap re-reads incident 482 on every poll: unchanged, it is not linked again.
	const polls = "cad_sidecar_cad_records_total"
	base := e.counter(t, polls, "unchanged")
	waitUntil(t, "no re-read incident counted unchanged", func() bool { return e.counter(t, polls, "unchanged") >= base+3 })
	if n := as.LinkRequests(); n != 2 {
		t.Fatalf("%d link requests after re-reads, want 2", n)
	}
	// A late commit: incident 483 arrives with a Last_Updated older than the cursor
	// (14:07:40) but inside the 30s overlap. It is linked.
	if _, err := db.Exec(`INSERT INTO Response_Master_Incident VALUES (483, '2026-000483', 'EMS', '2026-03-01 14:07:15', 'CHEST PAIN', 1,
		'9 PINE RD', 'SPRINGFIELD', 39.8, -89.6, '217-555-0177', 'CT042', NULL, '2026-03-01 14:07:20')`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the late incident 483 was not linked", func() bool { return as.Links()["EMS-2026-000483"] != "" })
}

// TestSQLReadOnly: without write_note the integration still links incidents, and each
// note goes to the read-only notes file (data_dir/notes.jsonl) once: delivered, not
// dead-lettered, and nothing is written into the CAD's database.
func TestSQLReadOnly(t *testing.T) {
	e := startCentralSquare(t, true)
	const notes = 6 // two open incidents, each 2 INFO notes + 1 CALL_COMPLETED
	stats := func() outbox.Stats {
		st, err := e.s.Store().Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitUntil(t, "the notes of both incidents in the read-only notes file", func() bool {
		st := stats()
		return len(e.as.Links()) == 2 && e.gauge(t, "cad_sidecar_notes_delivered_total") == notes &&
			st.Pending[outbox.TopicNote] == 0 && st.Dead[outbox.TopicNote] == 0
	})
	if st := stats(); st.Dead[outbox.TopicNote] != 0 {
		t.Fatalf("dead letters in a read-only integration: %+v", st)
	}
	if n := e.assistNotes(t); n != 0 {
		t.Fatalf("%d notes written by a read-only integration", n)
	}
	b, err := os.ReadFile(filepath.Join(e.dataDir, "notes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	perIncident := map[string]int{}
	keys := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var l struct {
			IncidentID string `json:"incident_id"`
			Key        string `json:"key"`
			Text       string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("notes.jsonl line %q: %v", line, err)
		}
		if !strings.HasPrefix(l.Text, "[Assist") || keys[l.Key] {
			t.Fatalf("line %q: want a rendered note, each key once", line)
		}
		keys[l.Key] = true
		perIncident[l.IncidentID]++
	}
	if perIncident["FIRE-2026-000481"] != 3 || perIncident["EMS-2026-000482"] != 3 || len(perIncident) != 2 {
		t.Fatalf("notes per incident in notes.jsonl: %v", perIncident)
	}
}

// gauge is the value of the unlabelled counter or gauge name (0 if absent).
func (e *csEnv) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if c := mf.GetMetric()[0].GetCounter(); c != nil {
				return c.GetValue()
			}
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

type csEnv struct {
	s       *sidecar.Sidecar
	as      *sim.Assist
	db      *sql.DB
	reg     *prometheus.Registry
	dataDir string
}

// counter is the value of the counter name with the label result=result.
func (e *csEnv) counter(t *testing.T, name, result string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling for a bounded time
	}
}

func (e *csEnv) assistNotes(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM Response_Comments WHERE Comment_By = 'ASSIST'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *csEnv) waitNotes(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for e.assistNotes(t) < want {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d Assist notes in Response_Comments, want %d; links %v", e.assistNotes(t), want, e.as.Links())
		}
		time.Sleep(50 * time.Millisecond) // polling a database for a bounded time
	}
}

// startCentralSquare runs the sidecar with the example's config against a PostgreSQL
// database loaded with its schema.sql and the simulated Assist (notes: pull).
func startCentralSquare(t *testing.T, readOnly bool) *csEnv {
	t.Helper()
	return startSQLExample(t, "sql-centralsquare", "postgres://assist_reader@cad-reporting.local:5432/cad?sslmode=require", readOnly)
}

// startSQLExample runs the sidecar with the config of the example in dir (its DSN dsn
// replaced) against a PostgreSQL database loaded with its schema.sql and the simulated
// Assist (notes: pull); readOnly drops the config's write_note.
func startSQLExample(t *testing.T, dir, dsn string, readOnly bool) *csEnv {
	t.Helper()
	srv := dbtest.Postgres(t)
	dbName := srv.NewDatabase(t)
	schema, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, dbName, string(schema))

	ctx, cancel := context.WithCancel(context.Background())
	const token = "test-assist-token"
	as := sim.NewAssist(sim.AssistOptions{Token: token, Seed: 5, NotesPerCall: 2, NoteEvery: 20 * time.Millisecond})
	as.Start(ctx)
	asSrv := httptest.NewServer(as)

	raw, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cfgText := strings.NewReplacer(
		"https://assist.example.com/realtime/v1", asSrv.URL,
		"REPLACE-WITH-THE-ASSIST-API-TOKEN", token,
		`":8080"`, `"127.0.0.1:0"`,
		dsn, srv.DSN(dbName),
		"start: now", "start: beginning",
		`schedule: "@every 2s"`, `schedule: "@every 1s"`,
		"sample: record.json", "sample: "+filepath.Join(mustAbs(t, dir), "record.json"),
	).Replace(string(raw))
	if !strings.Contains(cfgText, srv.DSN(dbName)) {
		t.Fatalf("%s/config.yaml has no DSN %s to replace", dir, dsn)
	}
	cfgText += "\nadmin: {listen: \"127.0.0.1:0\"}\noutbox: {retry: {initial: 20ms, max: 200ms}}\n"
	cfgText = strings.Replace(cfgText, "  webhook: {auth_token:", "  notes: pull\n  pull: {schedule: \"@every 1s\"}\n  webhook: {register: false, auth_token:", 1)
	if readOnly {
		i := strings.Index(cfgText, "    write_note:")
		j := strings.Index(cfgText, "mapping:")
		cfgText = cfgText[:i] + cfgText[j:]
	}
	path := filepath.Join(tmp, "config.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	if _, ok := cfg.CAD.Settings.(*sqldb.Config); !ok {
		t.Fatalf("settings %T", cfg.CAD.Settings)
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
	return &csEnv{s: s, as: as, db: srv.Open(t, dbName), reg: reg, dataDir: cfg.DataDir}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
