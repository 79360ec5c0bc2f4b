package sqldb_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
)

// TestFactoryReadOnly: the adapter is registered as "sql"; without write_note.statement
// its factory returns no Sink (an untyped nil, so `sink == nil` holds), with one a Sink.
func TestFactoryReadOnly(t *testing.T) {
	f, ok := adapters.Lookup("sql")
	if !ok {
		t.Fatal(`"sql" is not registered`)
	}
	c := f.NewConfig().(*sqldb.Config)
	c.Driver, c.DSN = sqldb.DriverPostgres, "postgres://reader:pw@127.0.0.1:1/cad"
	c.Poll.Query = "SELECT * FROM v"
	src, sink, err := f.New(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if src == nil || sink != nil {
		t.Fatalf("read-only: source %v sink %#v, want a source and a nil sink", src, sink)
	}
	if sc, ok := src.(interface{ Schedule() string }); !ok || sc.Schedule() != sqldb.DefaultSchedule {
		t.Fatalf("schedule: %v", src)
	}
	if cl, ok := src.(io.Closer); !ok || cl.Close() != nil {
		t.Fatal("the sql source does not close its pool")
	}
	c.WriteNote.Statement = "INSERT INTO c (i) VALUES (:incident_id)"
	if _, sink, err = f.New(c, adapters.Deps{}); err != nil || sink == nil {
		t.Fatalf("with write_note: sink %v, %v", sink, err)
	}
}

// TestNoPasswordInLogs: the start-up log line shows the DSN with its password masked.
func TestNoPasswordInLogs(t *testing.T) {
	var buf strings.Builder
	c := sqldb.NewConfig()
	c.Driver, c.DSN = sqldb.DriverMySQL, "reader:Sup3rSecret@tcp(127.0.0.1:1)/cad"
	c.Poll.Query = "SELECT * FROM v"
	a, err := sqldb.New(c, adapters.Deps{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, perr := a.Source.Poll(context.Background(), "")
	if perr == nil {
		t.Fatal("poll of a closed port succeeded")
	}
	if strings.Contains(buf.String(), "Sup3rSecret") || strings.Contains(perr.Error(), "Sup3rSecret") || !strings.Contains(buf.String(), "reader:***@") {
		t.Fatalf("log %q / error %q", buf.String(), perr)
	}
}

// TestFactorySinkOnly: cad.sink: sql builds the Sink alone — no poll section needed, the
// statement required — and that Sink owns (and closes) the pool.
func TestFactorySinkOnly(t *testing.T) {
	f, _ := adapters.Lookup("sql")
	if f.NewSink == nil || f.ValidateSink == nil {
		t.Fatal("the sql adapter has no sink role")
	}
	c := f.NewConfig().(*sqldb.Config)
	c.Driver, c.DSN = sqldb.DriverPostgres, "postgres://writer:pw@127.0.0.1:1/cad"
	if p := f.ValidateSink(c); len(p) != 1 || p[0].Key != "write_note.statement" {
		t.Fatalf("ValidateSink without a statement = %v", p)
	}
	c.WriteNote.Statement = "INSERT INTO c (i) VALUES (:incident_id)"
	if p := f.ValidateSink(c); len(p) != 0 {
		t.Fatalf("ValidateSink without poll = %v, want none", p)
	}
	sink, err := f.NewSink(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if cl, ok := sink.(io.Closer); !ok || cl.Close() != nil {
		t.Fatal("a sink-only sql Sink does not close its pool")
	}
}
