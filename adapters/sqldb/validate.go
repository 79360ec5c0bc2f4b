package sqldb

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// Validate checks a decoded config. Problem keys are relative to cad.sql.
func Validate(c *Config) []adapters.Problem {
	var probs []adapters.Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, adapters.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	driverOK := true
	if _, ok := sqlDriver[c.Driver]; !ok {
		driverOK = false
		if c.Driver == "" {
			add("driver", "required: postgres | sqlserver | mysql")
		} else {
			add("driver", "must be one of postgres | sqlserver | mysql, got %q", c.Driver)
		}
	}
	if c.DSN == "" && c.DSNFile == "" {
		add("dsn", `required (or dsn_file), e.g. "postgres://reader@127.0.0.1:5432/cad?sslmode=disable"`)
	}
	if c.Driver == DriverSQLServer && c.DSN != "" {
		if err := checkSQLServerAuth(c.DSN); err != nil {
			add("dsn", "%s", newRedactor(c.Driver, c.DSN).apply(err.Error()))
		}
	}
	if c.MaxOpenConns < 1 {
		add("max_open_conns", "must be >= 1, got %d", c.MaxOpenConns)
	}
	if c.QueryTimeout <= 0 {
		add("query_timeout", "must be > 0, got %s", c.QueryTimeout)
	}

	p := c.Poll
	if p.Schedule == "" {
		add("poll.schedule", `required: a cron spec such as "@every 2s"`)
	} else if _, err := cron.ParseStandard(p.Schedule); err != nil {
		add("poll.schedule", "%q is not a valid cron schedule: %v", p.Schedule, err)
	}
	if strings.TrimSpace(p.Query) == "" {
		add("poll.query", `required, e.g. "SELECT * FROM v_incidents WHERE last_updated > :cursor ORDER BY last_updated"`)
	} else if driverOK {
		if b, err := Rewrite(c.Driver, p.Query); err != nil {
			add("poll.query", "%v", err)
		} else {
			for _, n := range b.Names {
				if n != "cursor" {
					add("poll.query", "unknown parameter :%s (the poll query can use :cursor)", n)
					break
				}
			}
			if b.Uses("cursor") && p.CursorColumn == "" {
				add("poll.cursor_column", "required when poll.query uses :cursor: the column whose largest value becomes the next :cursor")
			}
		}
	}
	switch p.CursorType {
	case CursorAuto, CursorTimestamp, CursorInteger, CursorText:
	default:
		add("poll.cursor_type", `must be one of timestamp | integer | text, or "" (told from the column), got %q`, p.CursorType)
	}
	if p.Overlap < 0 {
		add("poll.overlap", "must be >= 0, got %s", p.Overlap)
	}
	switch p.Start {
	case StartBeginning, StartNow:
	default:
		if _, err := time.Parse(time.RFC3339Nano, p.Start); err != nil {
			add("poll.start", "must be beginning | now | an RFC 3339 time such as 2026-03-01T00:00:00Z, got %q", p.Start)
		}
	}

	if s := c.WriteNote.Statement; s != "" && driverOK {
		if b, err := Rewrite(c.Driver, s); err != nil {
			add("write_note.statement", "%v", err)
		} else {
			for _, n := range b.Names {
				if !slices.Contains(NoteParams, n) {
					add("write_note.statement", "unknown parameter :%s (the note parameters are :%s)", n, strings.Join(NoteParams, " :"))
					break
				}
			}
		}
	}
	return probs
}
