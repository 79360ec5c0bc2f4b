package dbtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestServers: each kind starts, takes a database of the test's, answers a query, and
// comes back after a stop on the same port.
func TestServers(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := dbtest.Start(t, kind)
			name := srv.NewDatabase(t)
			srv.Exec(t, name, "CREATE TABLE x (id INTEGER PRIMARY KEY)", "INSERT INTO x VALUES (1)")
			count := func() (int, error) {
				db := srv.Open(t, name)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var n int
				err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM x").Scan(&n)
				return n, err
			}
			if n, err := count(); err != nil || n != 1 {
				t.Fatalf("count = %d, %v", n, err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := count(); err == nil {
				t.Fatal("query on a stopped server succeeded")
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			if n, err := count(); err != nil || n != 1 {
				t.Fatalf("after restart: count = %d, %v", n, err)
			}
		})
	}
}
