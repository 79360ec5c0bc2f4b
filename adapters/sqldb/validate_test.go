package sqldb

import (
	"strings"
	"testing"
	"time"
)

func validConfig() *Config {
	c := NewConfig()
	c.Driver = DriverPostgres
	c.DSN = "postgres://reader@127.0.0.1:5432/cad"
	c.Poll.Query = "SELECT * FROM v WHERE t > :cursor"
	c.Poll.CursorColumn = "t"
	return c
}

// TestValidate: each bad key is reported under its own path (relative to cad.sql).
func TestValidate(t *testing.T) {
	tests := []struct {
		name, key, msg string
		edit           func(*Config)
	}{
		{"driver missing", "driver", "required", func(c *Config) { c.Driver = "" }},
		{"driver unknown", "driver", `got "oracle"`, func(c *Config) { c.Driver = "oracle" }},
		{"dsn missing", "dsn", "required", func(c *Config) { c.DSN = "" }},
		{"max_open_conns", "max_open_conns", ">= 1", func(c *Config) { c.MaxOpenConns = 0 }},
		{"query_timeout", "query_timeout", "> 0", func(c *Config) { c.QueryTimeout = 0 }},
		{"schedule", "poll.schedule", "not a valid cron", func(c *Config) { c.Poll.Schedule = "every 2s" }},
		{"query missing", "poll.query", "required", func(c *Config) { c.Poll.Query = " " }},
		{"query unterminated", "poll.query", "unterminated", func(c *Config) { c.Poll.Query = "SELECT 'x" }},
		{"query unknown param", "poll.query", ":since", func(c *Config) { c.Poll.Query = "SELECT * FROM v WHERE t > :since" }},
		{"cursor_column missing", "poll.cursor_column", "required", func(c *Config) { c.Poll.CursorColumn = "" }},
		{"cursor_type", "poll.cursor_type", `got "date"`, func(c *Config) { c.Poll.CursorType = "date" }},
		{"overlap", "poll.overlap", ">= 0", func(c *Config) { c.Poll.Overlap = -time.Second }},
		{"start", "poll.start", "RFC 3339", func(c *Config) { c.Poll.Start = "yesterday" }},
		{"note unknown param", "write_note.statement", ":incident", func(c *Config) {
			c.WriteNote.Statement = "INSERT INTO c (i) VALUES (:incident)"
		}},
	}
	if probs := Validate(validConfig()); len(probs) != 0 {
		t.Fatalf("valid config: %v", probs)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			probs := Validate(c)
			if len(probs) != 1 || probs[0].Key != tt.key || !strings.Contains(probs[0].Msg, tt.msg) {
				t.Fatalf("Validate = %+v, want one problem at %s containing %q", probs, tt.key, tt.msg)
			}
		})
	}
}

func TestValidateAllNoteParams(t *testing.T) {
	c := validConfig()
	c.Poll.Start = "2026-03-01T00:00:00Z"
	c.WriteNote.Statement = "CALL add_note(:incident_id, :call_id, :user_id, :type, :note, :text, :critical, :created_at, :key)"
	if probs := Validate(c); len(probs) != 0 {
		t.Fatalf("Validate = %v", probs)
	}
}

func TestStatementTarget(t *testing.T) {
	for in, want := range map[string]string{
		"INSERT INTO comments (a) VALUES (:x)":           "comments",
		"  insert into dbo.Response_Comments VALUES (1)": "dbo.Response_Comments",
		"EXEC dbo.AddNote @inc = :incident_id":           "dbo.AddNote",
		"CALL add_note(:incident_id)":                    "add_note",
		"SELECT * FROM v_incidents WHERE t > :cursor":    "v_incidents",
		"UPDATE incidents SET x = 1":                     "incidents",
		"WITH x AS (SELECT 1) SELECT 2":                  "",
	} {
		if got := statementTarget(in); got != want {
			t.Errorf("statementTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
