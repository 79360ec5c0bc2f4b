package config_test

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/rest"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// sqlSource is the cad section of an integration reading incidents from a SQL view, with
// the notes chosen by cad.sink and the REST section given.
func sqlSource(sink, restSection string) string {
	cad := "cad:\n  adapter: sql\n"
	if sink != "" {
		cad += "  sink: " + sink + "\n"
	}
	cad += `  sql:
    driver: postgres
    dsn: "postgres://reader@127.0.0.1:5432/cad"
    poll: {query: "SELECT * FROM v WHERE t > :cursor", cursor_column: t}
`
	if restSection != "" {
		cad += "  rest: " + restSection + "\n"
	}
	return cad
}

func withCAD(t *testing.T, cad string) string {
	t.Helper()
	m := minimal(t)
	i, j := strings.Index(m, "cad:\n"), strings.Index(m, "mapping:\n")
	return m[:i] + cad + m[j:]
}

// cad.sink chooses the adapter that writes notes: a REST section without poll is valid
// as the sink of a SQL source; mistakes are named by key.
func TestSinkChosenIndependently(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, withCAD(t, sqlSource("rest", `{base_url: "http://cad.local/api", write_note: {path: "/calls/{{.IncidentID}}/comments"}}`))), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("a sink-only cad.rest section did not validate: %v", err)
	}
	if !cfg.CAD.SeparateSink() || cfg.CAD.SinkAdapter() != "rest" {
		t.Fatalf("sink %q separate %v", cfg.CAD.SinkAdapter(), cfg.CAD.SeparateSink())
	}
	if _, ok := cfg.CAD.Settings.(*sqldb.Config); !ok {
		t.Fatalf("source settings %T", cfg.CAD.Settings)
	}
	rc, ok := cfg.CAD.SinkSettings.(*rest.Config)
	if !ok || rc.WriteNote.Path != "/calls/{{.IncidentID}}/comments" || rc.Poll.Path != "" {
		t.Fatalf("sink settings %#v", cfg.CAD.SinkSettings)
	}

	// The shorthand: no cad.sink, or cad.sink naming cad.adapter, is the adapter's own.
	for _, sink := range []string{"", "sql"} {
		cfg, err := config.Load(writeConfig(t, withCAD(t, sqlSource(sink, ""))), config.Options{Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CAD.SeparateSink() || cfg.CAD.SinkAdapter() != "sql" || cfg.CAD.SinkSettings != nil {
			t.Fatalf("cad.sink %q: separate %v, sink %q", sink, cfg.CAD.SeparateSink(), cfg.CAD.SinkAdapter())
		}
	}

	tests := []struct {
		name, cad string
		want      string
	}{
		{"unknown sink", sqlSource("fax", ""), `cad.sink: unknown adapter "fax" (available: `},
		{"sink section missing", sqlSource("rest", ""), `cad.rest.base_url: required`},
		{"sink section wrong", sqlSource("rest", `{base_url: "ftp://x", write_note: {method: GET}}`), `cad.rest.base_url: "ftp://x" is not an absolute http(s) URL`},
		{"sink method", sqlSource("rest", `{base_url: "http://x", write_note: {method: GET}}`), `cad.rest.write_note.method: "GET" is not one of POST, PUT, PATCH`},
		{"sql sink needs its statement", "cad:\n  adapter: rest\n  sink: sql\n  rest:\n    base_url: http://cad.local/api\n    poll: {path: /i}\n  sql: {driver: postgres, dsn: \"postgres://w@h/cad\"}\n", `cad.sql.write_note.statement: required when cad.sink is sql`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, withCAD(t, tt.cad)), config.Options{Environ: []string{}})
			if err == nil {
				t.Fatal("validated")
			}
			got := strings.Join(problems(t, err), "\n")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("problems\n%s\nwant one starting %q", got, tt.want)
			}
			if strings.Contains(got, "poll") {
				t.Fatalf("a sink-only section was asked for poll keys:\n%s", got)
			}
		})
	}
}
