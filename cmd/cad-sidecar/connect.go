package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// connectTimeout bounds `validate --connect` as a whole (each query has its own
// query_timeout or timeout too).
const connectTimeout = 60 * time.Second

// checkConnect is `validate --connect`: it connects to the CAD with the loaded config and
// returns what is wrong, keyed as config problems. For cad.adapter sql it is sqldb's Check
// (the poll query and the note statement, each in a rolled-back transaction) plus the
// mapping's from: paths against the query's columns; for other adapters, one poll with
// the cursor "" (for rest: a GET of the poll path). A missing column's problem points
// at the line that reads it (at). It writes what it found to w.
func checkConnect(ctx context.Context, cfg *config.Config, at func(key string) string, w io.Writer) []config.Problem {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	deps := adapters.Deps{Logger: slog.New(slog.DiscardHandler), CursorTolerance: cfg.CAD.CursorTolerance}
	prefix := "cad." + cfg.CAD.Adapter
	if c, ok := cfg.CAD.Settings.(*sqldb.Config); ok {
		return checkSQL(ctx, c, cfg.Mapping, deps, prefix, at, w)
	}
	f, ok := adapters.Lookup(cfg.CAD.Adapter)
	if !ok {
		return []config.Problem{{Key: "cad.adapter", Msg: fmt.Sprintf("%q is not registered", cfg.CAD.Adapter)}}
	}
	src, _, err := f.New(cfg.CAD.Settings, deps)
	if err != nil {
		return []config.Problem{{Key: prefix, Msg: err.Error()}}
	}
	if c, ok := src.(interface{ Close() error }); ok {
		defer c.Close()
	}
	poller, ok := src.(interface {
		Poll(context.Context, string) (adapters.Batch, error)
	})
	if !ok {
		fmt.Fprintf(w, "%s: nothing to check by connecting (the source is not polled)\n", prefix)
		return nil
	}
	b, err := poller.Poll(ctx, "")
	if err != nil {
		return []config.Problem{{Key: prefix + ".poll", Msg: "the first poll (cursor \"\") failed: " + err.Error()}}
	}
	fmt.Fprintf(w, "%s: connected: the first poll (cursor \"\") answered %d records\n", prefix, len(b.Records))
	return nil
}

func checkSQL(ctx context.Context, c *sqldb.Config, m mapping.Config, deps adapters.Deps, prefix string, at func(string) string, w io.Writer) []config.Problem {
	a, err := sqldb.New(c, deps)
	if err != nil {
		return []config.Problem{{Key: prefix, Msg: err.Error()}}
	}
	defer a.Close()
	cols, probs := a.Check(ctx)
	var ps []config.Problem
	for _, p := range probs {
		ps = append(ps, config.Problem{Key: joinKey(prefix, p.Key), Msg: p.Msg})
	}
	if cols != nil {
		for _, miss := range sqldb.MissingColumns(cols, c.Poll.GroupBy, mappingReads(m)) {
			ps = append(ps, config.Problem{Key: prefix + ".poll.query", Msg: miss.Msg(), Source: at(miss.Read.Key)})
		}
	}
	if len(ps) == 0 {
		note := "no note statement (read-only)"
		if c.WriteNote.Statement != "" {
			note = "the note statement ran and was rolled back"
		}
		fmt.Fprintf(w, "%s: connected (%s): the poll query returns %d columns (%s); %s\n",
			prefix, c.Driver, len(cols), strings.Join(cols, ", "), note)
	}
	return ps
}

// mappingReads are the from: paths of the mapping, keyed as in the config file.
func mappingReads(m mapping.Config) []sqldb.Read {
	var reads []sqldb.Read
	for _, s := range []struct {
		key string
		v   any
	}{{"mapping.incident_id", m.IncidentID}, {"mapping.user_id", m.UserID}} {
		switch x := s.v.(type) {
		case string:
			reads = append(reads, sqldb.Read{Key: s.key, Path: x})
		case map[string]any:
			if from, ok := x["from"].(string); ok {
				reads = append(reads, sqldb.Read{Key: s.key + ".from", Path: from})
			}
		case mapping.Source:
			reads = append(reads, sqldb.Read{Key: s.key + ".from", Path: x.From})
		case *mapping.Source:
			if x != nil {
				reads = append(reads, sqldb.Read{Key: s.key + ".from", Path: x.From})
			}
		}
	}
	for i, f := range m.Fields {
		reads = append(reads, sqldb.Read{Key: fmt.Sprintf("mapping.fields[%d].from", i), Path: f.From})
	}
	out := reads[:0]
	for _, r := range reads {
		if strings.TrimSpace(r.Path) != "" {
			out = append(out, r)
		}
	}
	return out
}

func joinKey(parent, key string) string {
	if key == "" {
		return parent
	}
	return parent + "." + key
}

// validateConnect runs checkConnect and prints its problems like Load's (exit 2).
func validateConnect(ctx context.Context, cfg *config.Config, w io.Writer) int {
	at := func(string) string { return "" }
	lines, err := config.LinesOf(cfg.File)
	if err == nil {
		at = lines.Of
	}
	ps := checkConnect(ctx, cfg, at, w)
	if len(ps) == 0 {
		return exitOK
	}
	if lines != nil {
		ps = lines.Attach(ps)
	}
	for _, p := range ps {
		fmt.Fprintln(w, p.String())
	}
	return exitProblems
}
