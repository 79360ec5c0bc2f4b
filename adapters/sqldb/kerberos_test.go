package sqldb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLServerIntegratedAuthChecked: a DSN naming an authenticator is checked by Validate,
// before any connection: Kerberos is built in (a keytab that does not exist is named, not
// "provider krb5 not found"), an unknown authenticator is refused, and a complete Kerberos
// setup (config file, keytab, realm, user) passes. No password reaches the message.
func TestSQLServerIntegratedAuthChecked(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	keytab := filepath.Join(dir, "svc.keytab")
	bare := filepath.Join(dir, "bare.conf") // no default_realm
	if err := os.WriteFile(bare, []byte("[libdefaults]\n  dns_lookup_kdc = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_realm = PSAP.LOCAL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keytab, []byte{0x05, 0x02}, 0o600); err != nil { // an empty keytab, version 2
		t.Fatal(err)
	}
	base := "sqlserver://svc_assist@cadsql01.psap.local?database=CAD_Reporting"
	tests := []struct {
		name, dsn, want string // want "" = no problem
	}{
		{"no authenticator", base, ""},
		{"kerberos with a keytab", base + "&authenticator=krb5&krb5-configfile=" + conf + "&krb5-keytabfile=" + keytab + "&krb5-realm=PSAP.LOCAL", ""},
		{"kerberos keytab missing", base + "&authenticator=krb5&krb5-configfile=" + conf + "&krb5-keytabfile=" + keytab + ".gone&krb5-realm=PSAP.LOCAL", "krb5-keytabfile does not exist"},
		{"kerberos config missing", base + "&authenticator=krb5&krb5-configfile=" + conf + ".gone&krb5-keytabfile=" + keytab + "&krb5-realm=PSAP.LOCAL", "krb5.conf.gone: no such file"},
		{"kerberos realm from krb5.conf", base + "&authenticator=krb5&krb5-configfile=" + conf + "&krb5-keytabfile=" + keytab, ""},
		{"kerberos realm nowhere", base + "&authenticator=krb5&krb5-configfile=" + bare + "&krb5-keytabfile=" + keytab, "krb5-realm is required"},
		{"unknown authenticator", "sqlserver://svc:S3cretPw@cadsql01?authenticator=kerbros", `authenticator=kerbros: provider kerbros not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Driver, c.DSN = DriverSQLServer, tc.dsn
			c.Poll.Query = "EXEC dbo.AssistIncidents @since = :cursor"
			var got []string
			for _, p := range Validate(c) {
				if p.Key == "dsn" {
					got = append(got, p.Msg)
				}
			}
			msg := strings.Join(got, "; ")
			switch {
			case tc.want == "" && msg != "":
				t.Fatalf("dsn problem %q, want none", msg)
			case tc.want != "" && !strings.Contains(msg, tc.want):
				t.Fatalf("dsn problem %q, want it to say %q", msg, tc.want)
			case strings.Contains(msg, "S3cretPw"):
				t.Fatalf("the password reached the message: %q", msg)
			}
		})
	}
}
