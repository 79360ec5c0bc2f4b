package sqldb

import (
	"reflect"
	"testing"
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		name, driver, in, want string
		names                  []string
	}{
		{"pg simple", DriverPostgres, "SELECT * FROM v WHERE t > :cursor ORDER BY t", "SELECT * FROM v WHERE t > $1 ORDER BY t", []string{"cursor"}},
		{"mysql simple", DriverMySQL, "SELECT * FROM v WHERE t > :cursor ORDER BY t", "SELECT * FROM v WHERE t > ? ORDER BY t", []string{"cursor"}},
		{"mssql simple", DriverSQLServer, "EXEC dbo.AssistIncidents @since = :cursor", "EXEC dbo.AssistIncidents @since = @p1", []string{"cursor"}},
		{"pg reused", DriverPostgres, "SELECT :a, :b, :a", "SELECT $1, $2, $1", []string{"a", "b"}},
		{"mssql reused", DriverSQLServer, "SELECT :a, :b, :a", "SELECT @p1, @p2, @p1", []string{"a", "b"}},
		{"mysql reused", DriverMySQL, "SELECT :a, :b, :a", "SELECT ?, ?, ?", []string{"a", "b", "a"}},
		{"pg cast", DriverPostgres, "SELECT :cursor::timestamptz, x::text", "SELECT $1::timestamptz, x::text", []string{"cursor"}},
		{"pg string", DriverPostgres, "SELECT ':not', 'it''s :no', :yes", "SELECT ':not', 'it''s :no', $1", []string{"yes"}},
		{"pg E string", DriverPostgres, `SELECT E'\' :no', :yes`, `SELECT E'\' :no', $1`, []string{"yes"}},
		{"pg plain backslash", DriverPostgres, `SELECT 'a\', :yes`, `SELECT 'a\', $1`, []string{"yes"}},
		{"mysql backslash", DriverMySQL, `SELECT 'a\' :no', :yes`, `SELECT 'a\' :no', ?`, []string{"yes"}},
		{"quoted ident", DriverPostgres, `SELECT ":x" FROM t WHERE a = :x`, `SELECT ":x" FROM t WHERE a = $1`, []string{"x"}},
		{"mysql backtick", DriverMySQL, "SELECT `:x` FROM t WHERE a = :x", "SELECT `:x` FROM t WHERE a = ?", []string{"x"}},
		{"mssql bracket", DriverSQLServer, "SELECT [a:b] FROM t WHERE a = :x", "SELECT [a:b] FROM t WHERE a = @p1", []string{"x"}},
		{"line comment", DriverPostgres, "SELECT 1 -- :no\nWHERE a = :x", "SELECT 1 -- :no\nWHERE a = $1", []string{"x"}},
		{"mysql hash comment", DriverMySQL, "SELECT 1 # :no\nWHERE a = :x", "SELECT 1 # :no\nWHERE a = ?", []string{"x"}},
		{"block comment", DriverSQLServer, "SELECT /* :no */ :x", "SELECT /* :no */ @p1", []string{"x"}},
		{"pg nested comment", DriverPostgres, "SELECT /* a /* :no */ :no */ :x", "SELECT /* a /* :no */ :no */ $1", []string{"x"}},
		{"pg dollar body", DriverPostgres, "SELECT $f$ :no $f$, $$ :no $$, :x", "SELECT $f$ :no $f$, $$ :no $$, $1", []string{"x"}},
		{"pg positional kept", DriverPostgres, "SELECT $1", "SELECT $1", nil},
		{"mysql assignment", DriverMySQL, "SET @a := :x", "SET @a := ?", []string{"x"}},
		{"no params", DriverMySQL, "SELECT * FROM t", "SELECT * FROM t", nil},
		{"digit after colon", DriverPostgres, "SELECT '10:30', a[1:2], :x", "SELECT '10:30', a[1:2], $1", []string{"x"}},
		{"note params", DriverSQLServer,
			"INSERT INTO c (i, t, k) VALUES (:incident_id, :text, :critical); SELECT :incident_id",
			"INSERT INTO c (i, t, k) VALUES (@p1, @p2, @p3); SELECT @p1", []string{"incident_id", "text", "critical"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rewrite(tt.driver, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.SQL != tt.want || !reflect.DeepEqual(got.Names, tt.names) {
				t.Errorf("Rewrite(%q)\n = %q %q\nwant %q %q", tt.in, got.SQL, got.Names, tt.want, tt.names)
			}
		})
	}
}

func TestRewriteUnterminated(t *testing.T) {
	for _, tt := range []struct{ driver, in string }{
		{DriverPostgres, "SELECT 'abc"},
		{DriverMySQL, `SELECT "abc`},
		{DriverSQLServer, "SELECT [abc"},
		{DriverPostgres, "SELECT /* abc"},
		{DriverPostgres, "SELECT $q$ abc"},
		{DriverMySQL, `SELECT 'it\'`},
	} {
		if _, err := Rewrite(tt.driver, tt.in); err == nil {
			t.Errorf("Rewrite(%s, %q): no error", tt.driver, tt.in)
		}
	}
}

func TestBoundArgs(t *testing.T) {
	b, _ := Rewrite(DriverMySQL, "SELECT :a, :b, :a")
	args, err := b.Args(map[string]any{"a": 1, "b": "x"})
	if err != nil || !reflect.DeepEqual(args, []any{1, "x", 1}) {
		t.Fatalf("Args = %v, %v", args, err)
	}
	if _, err := b.Args(map[string]any{"a": 1}); err == nil {
		t.Fatal("missing :b: no error")
	}
}
