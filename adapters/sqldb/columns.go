package sqldb

import (
	"fmt"
	"strings"
)

// Read is a column path some other part of the configuration reads from each record (a
// mapping's from: path): Key names where it is configured ("mapping.fields[2].from").
type Read struct {
	Key  string
	Path string
}

// Missing is a Read whose column the poll query does not return.
type Missing struct {
	Read   Read
	Column string
	// Near is a column that differs only in case ("" when none): record keys are the
	// column names as the database gives them, and paths are case-sensitive.
	Near string
}

// Msg describes the missing column for a problem keyed cad.sql.poll.query.
func (m Missing) Msg() string {
	msg := fmt.Sprintf("the query's columns do not include %q, which %s reads", m.Column, m.Read.Key)
	if m.Near != "" {
		msg += fmt.Sprintf(" (the query has %q: column names are case-sensitive in paths)", m.Near)
	}
	return msg
}

// MissingColumns checks reads against the poll query's columns cols (from Check). A path's
// first key is a column; with groupBy set, "rows" is the list of grouped rows and the key
// after rows[n] is a column too. Paths into a column's value (a JSON column's keys) are
// not checked beyond the column.
func MissingColumns(cols []string, groupBy string, reads []Read) []Missing {
	var out []Missing
	for _, r := range reads {
		col, rest := firstKey(r.Path)
		if col == "" {
			continue
		}
		if col == "rows" && groupBy != "" && !hasColumn(cols, "rows") {
			if col, _ = firstKey(rest); col == "" {
				continue // "rows" itself or rows[n]
			}
		}
		if hasColumn(cols, col) {
			continue
		}
		m := Missing{Read: r, Column: col}
		if i := findColumn(cols, col); i >= 0 {
			m.Near = cols[i]
		}
		out = append(out, m)
	}
	return out
}

// firstKey splits a mapping path into its first key and the rest after it (past any [n]
// and the dot): "rows[0].comment" → "rows", "comment".
func firstKey(path string) (key, rest string) {
	i := strings.IndexAny(path, ".[")
	if i < 0 {
		return path, ""
	}
	key, rest = path[:i], path[i:]
	for strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return key, ""
		}
		rest = rest[j+1:]
	}
	return key, strings.TrimPrefix(rest, ".")
}

func hasColumn(cols []string, name string) bool {
	for _, c := range cols {
		if c == name {
			return true
		}
	}
	return false
}
