package sqldb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// BenchmarkPoll: one poll of 10,000 changed rows of 12 columns from PostgreSQL, and one
// idle poll (no row after the cursor). Figures only: go test -run '^$' -bench Poll ./adapters/sqldb/
func BenchmarkPoll(b *testing.B) {
	srv := dbtest.Postgres(b)
	db := srv.NewDatabase(b)
	srv.Exec(b, db, `CREATE TABLE incidents (seq BIGINT PRIMARY KEY, id TEXT, nature TEXT, priority INT, address TEXT,
		city TEXT, lat NUMERIC(9,6), lon NUMERIC(9,6), phone TEXT, taker TEXT, received TIMESTAMP, narrative TEXT)`,
		`INSERT INTO incidents SELECT g, 'I' || g, 'NATURE ' || (g % 17), g % 3, g || ' MAIN ST', 'SPRINGFIELD', 39.78, -89.65,
			'217555' || g, 'CT' || (g % 40), TIMESTAMP '2026-03-01 10:00:00' + g * INTERVAL '1 second', repeat('x', 80)
		FROM generate_series(1, 10000) g`)
	c := base(srv, db)
	c.Poll.Query = "SELECT * FROM incidents WHERE seq > :cursor ORDER BY seq"
	c.Poll.CursorColumn = "seq"
	a, err := newAdapterB(c)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for _, bc := range []struct {
		name, cursor string
		rows         int
	}{{"10000-rows", "0", 10000}, {"idle", "10000", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				batch, err := a.Source.Poll(context.Background(), bc.cursor)
				if err != nil || len(batch.Records) != bc.rows {
					b.Fatal(fmt.Sprint(len(batch.Records), err))
				}
			}
		})
	}
}
