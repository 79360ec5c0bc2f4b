package sqldb

import (
	"fmt"
	"strconv"
	"strings"
)

// Bound is a statement with its :name parameters rewritten to the driver's placeholders.
type Bound struct {
	// SQL is the statement as sent to the driver.
	SQL string
	// Names are the parameter names, one per driver argument in order: for postgres
	// ($1, $2, ...) and sqlserver (@p1, @p2, ...) each distinct name once (a name used twice
	// reuses its placeholder); for mysql (?) one per occurrence.
	Names []string
}

// Args returns the driver arguments for the named values; a name without a value is an
// error naming it.
func (b Bound) Args(vals map[string]any) ([]any, error) {
	args := make([]any, len(b.Names))
	for i, n := range b.Names {
		v, ok := vals[n]
		if !ok {
			return nil, fmt.Errorf("unknown parameter :%s", n)
		}
		args[i] = v
	}
	return args, nil
}

// Uses reports whether the statement has the parameter :name.
func (b Bound) Uses(name string) bool {
	for _, n := range b.Names {
		if n == name {
			return true
		}
	}
	return false
}

// Rewrite turns the :name parameters of query into driver placeholders. It leaves alone
// what is not a parameter: ::type casts and := assignments, string literals ('...' with ”
// escapes; backslash escapes in mysql strings and in postgres E'...'), quoted identifiers
// ("...", `...` for mysql, [...] for sqlserver), postgres dollar-quoted bodies ($tag$...$tag$),
// -- line comments and /* block comments */ (nested in postgres). An unterminated literal,
// identifier or comment is an error.
func Rewrite(driver, query string) (Bound, error) {
	var b strings.Builder
	b.Grow(len(query) + 8)
	var names []string
	index := map[string]int{} // postgres / sqlserver: name → placeholder number
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '\'':
			backslash := driver == DriverMySQL ||
				(driver == DriverPostgres && i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i < 2 || !isIdent(query[i-2])))
			j, err := skipQuoted(query, i, '\'', backslash)
			if err != nil {
				return Bound{}, err
			}
			b.WriteString(query[i:j])
			i = j
		case c == '"':
			j, err := skipQuoted(query, i, '"', driver == DriverMySQL)
			if err != nil {
				return Bound{}, err
			}
			b.WriteString(query[i:j])
			i = j
		case c == '`' && driver == DriverMySQL:
			j, err := skipQuoted(query, i, '`', false)
			if err != nil {
				return Bound{}, err
			}
			b.WriteString(query[i:j])
			i = j
		case c == '[' && driver == DriverSQLServer:
			j, err := skipQuoted(query, i, ']', false)
			if err != nil {
				return Bound{}, err
			}
			b.WriteString(query[i:j])
			i = j
		case c == '-' && i+1 < n && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = n
			} else {
				j += i
			}
			b.WriteString(query[i:j])
			i = j
		case c == '#' && driver == DriverMySQL:
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = n
			} else {
				j += i
			}
			b.WriteString(query[i:j])
			i = j
		case c == '/' && i+1 < n && query[i+1] == '*':
			j, err := skipBlockComment(query, i, driver == DriverPostgres)
			if err != nil {
				return Bound{}, err
			}
			b.WriteString(query[i:j])
			i = j
		case c == '$' && driver == DriverPostgres && (i == 0 || !isIdent(query[i-1])):
			j, ok, err := skipDollarQuoted(query, i)
			if err != nil {
				return Bound{}, err
			}
			if !ok {
				b.WriteByte(c)
				i++
				continue
			}
			b.WriteString(query[i:j])
			i = j
		case c == ':' && i+1 < n && (query[i+1] == ':' || query[i+1] == '='):
			b.WriteString(query[i : i+2]) // a ::cast or an := assignment
			i += 2
		case c == ':' && i+1 < n && isIdentStart(query[i+1]) && (i == 0 || query[i-1] != ':'):
			j := i + 1
			for j < n && isIdent(query[j]) {
				j++
			}
			name := query[i+1 : j]
			switch driver {
			case DriverMySQL:
				names = append(names, name)
				b.WriteByte('?')
			default:
				k, seen := index[name]
				if !seen {
					names = append(names, name)
					k = len(names)
					index[name] = k
				}
				if driver == DriverPostgres {
					b.WriteString("$" + strconv.Itoa(k))
				} else {
					b.WriteString("@p" + strconv.Itoa(k))
				}
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return Bound{SQL: b.String(), Names: names}, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// skipQuoted returns the index just past the literal opened at i by q (closed by end, a
// doubled end being an escaped one).
func skipQuoted(s string, i int, end byte, backslash bool) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == end:
			if j+1 < len(s) && s[j+1] == end {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c...%c starting at offset %d", s[i], end, i)
}

func skipBlockComment(s string, i int, nested bool) (int, error) {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*' && (nested || depth == 0):
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated /* comment starting at offset %d", i)
}

// skipDollarQuoted skips a postgres $tag$...$tag$ string at i; ok is false when s[i:] does
// not open one (e.g. $1).
func skipDollarQuoted(s string, i int) (int, bool, error) {
	j := i + 1
	if j < len(s) && isIdentStart(s[j]) {
		for j < len(s) && isIdent(s[j]) {
			j++
		}
	}
	if j >= len(s) || s[j] != '$' {
		return 0, false, nil
	}
	tag := s[i : j+1]
	k := strings.Index(s[j+1:], tag)
	if k < 0 {
		return 0, false, fmt.Errorf("unterminated %s...%s starting at offset %d", tag, tag, i)
	}
	return j + 1 + k + len(tag), true, nil
}
