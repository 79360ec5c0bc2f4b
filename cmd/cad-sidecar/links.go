package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const linksUsage = `usage:
  cad-sidecar links [--incident ID] [--json] [--config FILE]
Lists each incident linked to an Assist call: the call, its status, the latest note and
how many notes wait for the CAD. Works through the running sidecar's admin API, or on the
data file when it is stopped.
`

// cmdLinks lists incident ↔ call links.
func cmdLinks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("links", stderr)
	cfgPath := configFlag(fs)
	incident := fs.String("incident", "", "only this incident")
	asJSON := fs.Bool("json", false, "machine-readable JSON instead of a table")
	fs.Usage = func() { fmt.Fprint(stderr, linksUsage) }
	if code := parse(fs, args); code >= 0 {
		return code
	}
	t, code := openConfigured(ctx, *cfgPath, true, "links", stderr)
	if t == nil {
		return code
	}
	defer t.close()
	links, err := t.links(ctx, *incident)
	if err != nil {
		return failed(stderr, "links", err)
	}
	if *asJSON {
		printJSON(stdout, sidecar.LinkPage{Links: links})
		return exitOK
	}
	printLinks(stdout, links)
	return exitOK
}

// links reads every page.
func (t *target) links(ctx context.Context, incident string) ([]sidecar.LinkView, error) {
	all := []sidecar.LinkView{}
	q := sidecar.LinkQuery{Incident: incident, Limit: sidecar.MaxLinkLimit}
	for {
		var page sidecar.LinkPage
		var err error
		if t.store != nil {
			page, err = sidecar.ListLinks(t.store, q)
		} else {
			v := url.Values{"limit": {strconv.Itoa(q.Limit)}}
			if q.Incident != "" {
				v.Set("incident", q.Incident)
			}
			if q.After != "" {
				v.Set("after", q.After)
			}
			err = t.call(ctx, "GET", "/api/v1/links?"+v.Encode(), nil, &page)
		}
		if err != nil {
			return all, err
		}
		all = append(all, page.Links...)
		if page.Next == "" {
			return all, nil
		}
		q.After = page.Next
	}
}

func printLinks(w io.Writer, links []sidecar.LinkView) {
	if len(links) == 0 {
		fmt.Fprintln(w, "no links")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tCALL\tCALL STATUS\tLINKED\tUPDATED\tLAST NOTE\tQUEUED NOTES")
	for _, l := range links {
		last := "-"
		if n := l.LastNote; n != nil {
			last = fmt.Sprintf("%s %s %s", n.State, dash(sidecar.NoteTypeLabel(n.Type, n.Source)), stamp(n.At))
			if n.Critical {
				last += " critical"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", l.IncidentID, dash(l.CallID), dash(l.CallStatus),
			stamp(l.LinkedAt), stamp(l.UpdatedAt), last, l.QueuedNotes)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d links. One incident's history: cad-sidecar trace INCIDENT\n", len(links))
}
