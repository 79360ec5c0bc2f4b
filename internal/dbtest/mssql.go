package dbtest

import (
	"fmt"
	"net/url"
	"os"
	"testing"

	_ "github.com/microsoft/go-mssqldb" // the SQL Server's driver
)

// EnvMSSQL names an existing SQL Server for the tests, as a sqlserver:// URL whose login may
// create and drop databases. SQL Server cannot run on this project's machines: it is never
// started here, and its tests run only when this is set.
const EnvMSSQL = "CAD_SIDECAR_TEST_MSSQL_DSN"

// KindSQLServer is an external SQL Server (see EnvMSSQL).
const KindSQLServer = "sqlserver"

// SQLServer returns the SQL Server named by CAD_SIDECAR_TEST_MSSQL_DSN, or skips.
func SQLServer(t testing.TB) *Server {
	t.Helper()
	dsn := os.Getenv(EnvMSSQL)
	if dsn == "" {
		t.Skipf("SKIP-OK: no SQL Server: set %s=sqlserver://user:password@host:1433 to run the suite against one", EnvMSSQL)
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "sqlserver" {
		t.Fatalf("dbtest: %s must be a sqlserver:// URL", EnvMSSQL)
	}
	return &Server{Kind: KindSQLServer, external: dsn}
}

// Available are the kinds the tests can run on: PostgreSQL and MariaDB, and SQL Server
// when CAD_SIDECAR_TEST_MSSQL_DSN is set.
func Available() []string {
	if os.Getenv(EnvMSSQL) != "" {
		return append(append([]string(nil), Kinds...), KindSQLServer)
	}
	return Kinds
}

func (s *Server) externalDSN(db string) string {
	if db == "" {
		return s.external
	}
	u, err := url.Parse(s.external)
	if err != nil {
		return s.external
	}
	q := u.Query()
	q.Set("database", db)
	u.RawQuery = q.Encode()
	return u.String()
}

func mssqlDrop(name string) string {
	return fmt.Sprintf("IF DB_ID('%s') IS NOT NULL BEGIN ALTER DATABASE %s SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE %s; END",
		name, name, name)
}
