package sqldb

import (
	"fmt"

	"github.com/microsoft/go-mssqldb/integratedauth"
	_ "github.com/microsoft/go-mssqldb/integratedauth/krb5" // authenticator=krb5: Kerberos with a keytab or a credential cache, from Linux
	"github.com/microsoft/go-mssqldb/msdsn"
)

// checkSQLServerAuth finds, before any connection, what the SQL Server driver would only
// say at the first login: an integrated-security authenticator that does not exist, or a
// Kerberos setup whose files are missing (krb5-configfile, krb5-keytabfile,
// krb5-credcachefile) or incomplete (krb5-realm). Only a DSN that names its authenticator
// is checked; without one the driver picks the platform's default (SSPI on Windows, NTLM
// for DOMAIN\user elsewhere) or a SQL login.
func checkSQLServerAuth(dsn string) error {
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return nil // the driver says it at open, with its own words
	}
	name, ok := cfg.Parameters["authenticator"]
	if !ok {
		return nil
	}
	if _, err := integratedauth.GetIntegratedAuthenticator(cfg); err != nil {
		return fmt.Errorf("authenticator=%s: %w", name, err)
	}
	return nil
}
