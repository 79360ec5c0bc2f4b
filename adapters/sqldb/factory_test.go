package sqldb_test

import (
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
	if sc, ok := src.(adapters.Scheduled); !ok || sc.Schedule() != sqldb.DefaultSchedule {
		t.Fatalf("schedule: %v", src)
	}
	c.WriteNote.Statement = "INSERT INTO c (i) VALUES (:incident_id)"
	if _, sink, err = f.New(c, adapters.Deps{}); err != nil || sink == nil {
		t.Fatalf("with write_note: sink %v, %v", sink, err)
	}
}
