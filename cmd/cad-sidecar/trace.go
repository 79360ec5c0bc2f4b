package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const traceUsage = `usage:
  cad-sidecar trace INCIDENT [--json] [--config FILE]
Prints what the sidecar did for one incident, in order, one event a line: polled and
mapped, link sent and answered, call started and ended, each note received, each write
and the CAD's answer, retries, give-ups, replays. No note text. Works through the running
sidecar's admin API, or on the data file when it is stopped.
`

// cmdTrace prints one incident's trace.
func cmdTrace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("trace", stderr)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "machine-readable JSON")
	fs.Usage = func() { fmt.Fprint(stderr, traceUsage) }
	pos, code := parseMixed(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || pos[0] == "" {
		fmt.Fprint(stderr, traceUsage)
		return exitProblems
	}
	t, code := openConfigured(ctx, *cfgPath, true, "trace", stderr)
	if t == nil {
		return code
	}
	defer t.close()
	var tr sidecar.Trace
	var err error
	if t.store != nil {
		tr, err = sidecar.ReadTrace(t.store, pos[0])
	} else {
		err = t.call(ctx, "GET", "/api/v1/trace/"+url.PathEscape(pos[0]), nil, &tr)
	}
	if err != nil {
		return failed(stderr, "trace", err)
	}
	if *asJSON {
		printJSON(stdout, tr)
		return exitOK
	}
	printTrace(stdout, tr)
	return exitOK
}

func printTrace(w io.Writer, tr sidecar.Trace) {
	if tr.Truncated {
		fmt.Fprintf(w, "(older events of incident %s were dropped: the trace keeps the last %d)\n", tr.IncidentID, sidecar.TraceMaxEvents)
	}
	for _, ev := range tr.Events {
		var b strings.Builder
		fmt.Fprintf(&b, "%s  %-14s", ev.At.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Kind)
		if ev.CallID != "" {
			b.WriteString("  call=" + ev.CallID)
		}
		if ev.NoteType != "" {
			b.WriteString("  note=" + sidecar.NoteTypeLabel(ev.NoteType, ev.Source))
			if ev.Critical {
				b.WriteString(" critical")
			}
		}
		if ev.Detail != "" {
			b.WriteString("  " + oneLine(ev.Detail))
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "%d events for incident %s\n", len(tr.Events), tr.IncidentID)
}
