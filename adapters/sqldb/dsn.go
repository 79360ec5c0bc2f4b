package sqldb

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

const masked = "***"

// kvPassword finds password=... / pwd=... in key/value DSNs (libpq "k=v k=v", ADO.NET
// "k=v;k=v", with '...', "..." or {...} quoting).
var kvPassword = regexp.MustCompile(`(?i)\b(password|pwd)(\s*=\s*)('(?:[^'\\]|\\.)*'|"[^"]*"|\{[^}]*\}|[^;\s&]*)`)

// passwords returns the secrets in dsn, as written and decoded.
func passwords(driver, dsn string) []string {
	var out []string
	addp := func(s string) {
		if s != "" && s != masked {
			out = append(out, s)
			if e := url.QueryEscape(s); e != s {
				out = append(out, e)
			}
			if e := url.PathEscape(s); e != s {
				out = append(out, e)
			}
		}
	}
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			if u.User != nil {
				if p, ok := u.User.Password(); ok {
					addp(p)
				}
			}
			for k, vs := range u.Query() {
				if strings.EqualFold(k, "password") || strings.EqualFold(k, "pwd") {
					for _, v := range vs {
						addp(v)
					}
				}
			}
		}
	} else if driver == DriverMySQL {
		if c, err := mysql.ParseDSN(dsn); err == nil {
			addp(c.Passwd)
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[3]
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"' || v[0] == '{') {
			addp(v[1 : len(v)-1])
		}
		addp(v)
	}
	return out
}

// RedactDSN returns dsn with its password replaced by ***, for logs and errors.
func RedactDSN(driver, dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "")
				dsn = strings.Replace(u.String(), "@", ":"+masked+"@", 1)
			}
		}
	}
	dsn = kvPassword.ReplaceAllString(dsn, "${1}${2}"+masked)
	return newRedactor(driver, dsn).apply(dsn)
}

// redactor removes a DSN's secrets from any text (driver error messages may echo the DSN).
type redactor struct{ secrets []string }

func newRedactor(driver, dsn string) redactor {
	return redactor{secrets: passwords(driver, dsn)}
}

func (r redactor) apply(s string) string {
	for _, p := range r.secrets {
		s = strings.ReplaceAll(s, p, masked)
	}
	return s
}
