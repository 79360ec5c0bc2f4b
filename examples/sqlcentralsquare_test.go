package examples_test

import (
	"context"
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
	srv := dbtest.Postgres(t)
	dbName := srv.NewDatabase(t)
	schema, err := os.ReadFile("sql-centralsquare/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, dbName, string(schema))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const token = "test-assist-token"
	as := sim.NewAssist(sim.AssistOptions{Token: token, Seed: 5, NotesPerCall: 2, NoteEvery: 20 * time.Millisecond})
	as.Start(ctx)
	asSrv := httptest.NewServer(as)
	defer asSrv.Close()
	defer as.Close()

	raw, err := os.ReadFile("sql-centralsquare/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgText := strings.NewReplacer(
		"https://assist.example.com/realtime/v1", asSrv.URL,
		"REPLACE-WITH-THE-ASSIST-API-TOKEN", token,
		`":8080"`, `"127.0.0.1:0"`,
		"postgres://assist_reader@cad-reporting.local:5432/cad?sslmode=require", srv.DSN(dbName),
		"start: now", "start: beginning",
		`schedule: "@every 2s"`, `schedule: "@every 1s"`,
		"sample: record.json", "sample: "+filepath.Join(mustAbs(t, "sql-centralsquare"), "record.json"),
	).Replace(string(raw))
	cfgText += "\nadmin: {listen: \"127.0.0.1:0\"}\noutbox: {retry: {initial: 20ms, max: 200ms}}\n"
	cfgText = strings.Replace(cfgText, "  webhook: {auth_token:", "  notes: pull\n  pull: {schedule: \"@every 1s\"}\n  webhook: {register: false, auth_token:", 1)
	path := filepath.Join(dir, "config.yaml")
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
	s, err := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("sidecar log:\n%s", logs.String())
		}
	}()

	db := srv.Open(t, dbName)
	assistNotes := func() int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM Response_Comments WHERE Comment_By = 'ASSIST'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Two open incidents, each 2 INFO notes + 1 CALL_COMPLETED.
	deadline := time.Now().Add(60 * time.Second)
	for assistNotes() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d Assist notes in Response_Comments, want 6; links %v", assistNotes(), as.Links())
		}
		time.Sleep(50 * time.Millisecond) // polling a database for a bounded time
	}
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
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
