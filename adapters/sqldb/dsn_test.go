package sqldb

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct{ driver, dsn, want string }{
		{DriverPostgres, "postgres://reader:s3cr%40t@127.0.0.1:5432/cad?sslmode=disable", "postgres://reader:***@127.0.0.1:5432/cad?sslmode=disable"},
		{DriverPostgres, "postgres://reader@127.0.0.1:5432/cad", "postgres://reader@127.0.0.1:5432/cad"},
		{DriverPostgres, "host=db user=reader password='s3 cret' dbname=cad", "host=db user=reader password=*** dbname=cad"},
		{DriverMySQL, "reader:s3cret@tcp(127.0.0.1:3306)/cad?parseTime=true", "reader:***@tcp(127.0.0.1:3306)/cad?parseTime=true"},
		{DriverSQLServer, "sqlserver://reader:s3cret@cadsql01:1433?database=CAD&ApplicationIntent=ReadOnly", "sqlserver://reader:***@cadsql01:1433?database=CAD&ApplicationIntent=ReadOnly"},
		{DriverSQLServer, "sqlserver://cadsql01/REPORTING?database=CAD&password=s3cret&user+id=reader", "sqlserver://cadsql01/REPORTING?database=CAD&password=***&user+id=reader"},
		{DriverSQLServer, "server=cadsql01;user id=reader;password={s3;cret};database=CAD", "server=cadsql01;user id=reader;password=***;database=CAD"},
		{DriverSQLServer, "server=cadsql01;Pwd=s3cret;database=CAD", "server=cadsql01;Pwd=***;database=CAD"},
	}
	for _, tt := range tests {
		got := RedactDSN(tt.driver, tt.dsn)
		if got != tt.want {
			t.Errorf("RedactDSN(%q)\n = %q\nwant %q", tt.dsn, got, tt.want)
		}
		for _, p := range []string{"s3cret", "s3cr@t", "s3 cret", "s3;cret"} {
			if strings.Contains(got, p) {
				t.Errorf("RedactDSN(%q) = %q still holds the password", tt.dsn, got)
			}
		}
	}
}

func TestRedactorOnDriverErrors(t *testing.T) {
	r := newRedactor(DriverMySQL, "reader:pa55word@tcp(127.0.0.1:3306)/cad")
	err := wrapRedacted(r, "poll", errors.New("cannot connect as reader:pa55word@tcp(127.0.0.1:3306)"))
	if strings.Contains(err.Error(), "pa55word") {
		t.Fatalf("Error() = %q", err)
	}
}
