package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const deadletterUsage = `usage:
  cad-sidecar deadletter list   [--json] [--content] [--topic T] [--config FILE]
  cad-sidecar deadletter replay ID | --all [--topic T] [--config FILE]
  cad-sidecar deadletter drop   ID [--config FILE]
Works through the running sidecar's admin API, or on the data file when it is stopped.
`

// cmdDeadletter lists, replays and drops dead letters (notes and links given up).
func cmdDeadletter(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, deadletterUsage)
		return exitProblems
	}
	sub := args[0]
	fs := newFlags("deadletter "+sub, stderr)
	cfgPath := configFlag(fs)
	topic := new(string)
	var asJSON, content, all *bool
	switch sub {
	case "list", "replay":
		topic = fs.String("topic", "", "only this topic (note or link)")
	}
	switch sub {
	case "list":
		asJSON = fs.Bool("json", false, "machine-readable JSON instead of a table")
		content = fs.Bool("content", false, "also show the note text, the CAD's answer (evidence) and the payload: caller data")
	case "replay":
		all = fs.Bool("all", false, "replay every dead letter (of --topic, if given)")
	case "drop":
	default:
		fmt.Fprintf(stderr, "unknown deadletter command %q\n%s", sub, deadletterUsage)
		return exitProblems
	}
	pos, code := parseMixed(fs, args[1:])
	if code >= 0 {
		return code
	}
	var id string
	switch {
	case sub == "list" && len(pos) == 0:
	case sub == "replay" && *all && len(pos) == 0:
	case sub != "list" && (all == nil || !*all) && len(pos) == 1:
		id = pos[0]
	default:
		fmt.Fprint(stderr, deadletterUsage)
		return exitProblems
	}
	t, code := openConfigured(ctx, *cfgPath, sub == "list", "deadletter "+sub, stderr)
	if t == nil {
		return code
	}
	defer t.close()

	switch {
	case sub == "list":
		page, err := t.listDeadLetters(ctx, *topic, *content)
		if err != nil {
			return failed(stderr, "deadletter list", err)
		}
		if *asJSON {
			printJSON(stdout, page)
			return exitOK
		}
		printDeadLetters(stdout, page, *content)
	case sub == "replay" && *all:
		n, err := t.replayAll(ctx, *topic)
		if err != nil {
			return failed(stderr, "deadletter replay", err)
		}
		fmt.Fprintf(stdout, "replayed %d dead letters (%s)\n", sum(n), perTopic(n))
	case sub == "replay":
		if err := t.replay(ctx, id); err != nil {
			return failed(stderr, "deadletter replay", err)
		}
		fmt.Fprintln(stdout, "replayed", id)
	case sub == "drop":
		if err := t.drop(ctx, id); err != nil {
			return failed(stderr, "deadletter drop", err)
		}
		fmt.Fprintln(stdout, "dropped", id)
	}
	return exitOK
}

// listDeadLetters reads every page.
func (t *target) listDeadLetters(ctx context.Context, topic string, content bool) (sidecar.DeadLetterPage, error) {
	var all sidecar.DeadLetterPage
	q := sidecar.DeadLetterQuery{Topic: topic, Limit: sidecar.MaxDeadLetterLimit, Content: content}
	for {
		var page sidecar.DeadLetterPage
		var err error
		if t.store != nil {
			page, err = sidecar.ListDeadLetters(t.store, q)
		} else {
			err = t.call(ctx, "GET", topicPagePath("/api/v1/deadletters", q.Limit, q.Topic, q.After, content), nil, &page)
		}
		if err != nil {
			return all, err
		}
		all.DeadLetters = append(all.DeadLetters, page.DeadLetters...)
		all.Total = page.Total
		if page.Next == "" {
			if all.DeadLetters == nil {
				all.DeadLetters = []sidecar.DeadLetterView{}
			}
			return all, nil
		}
		q.After = page.Next
	}
}

func (t *target) replay(ctx context.Context, id string) error {
	if t.store != nil {
		return sidecar.ReplayDeadLetter(t.store, id)
	}
	return t.call(ctx, "POST", "/api/v1/deadletters/"+url.PathEscape(id)+"/replay", nil, nil)
}

func (t *target) replayAll(ctx context.Context, topic string) (map[string]int, error) {
	if t.store != nil {
		return sidecar.ReplayDeadLetters(t.store, topic)
	}
	var out struct {
		Replayed map[string]int `json:"replayed"`
	}
	path := "/api/v1/deadletters/replay"
	if topic != "" {
		path += "?topic=" + url.QueryEscape(topic)
	}
	err := t.call(ctx, "POST", path, nil, &out)
	return out.Replayed, err
}

func (t *target) drop(ctx context.Context, id string) error {
	if t.store != nil {
		return sidecar.DropDeadLetter(t.store, id)
	}
	return t.call(ctx, "DELETE", "/api/v1/deadletters/"+url.PathEscape(id), nil, nil)
}

// printDeadLetters prints the table (and, with content, the text and evidence of each
// dead letter below it).
func printDeadLetters(w io.Writer, page sidecar.DeadLetterPage, content bool) {
	if len(page.DeadLetters) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINCIDENT\tCALL\tTYPE\tCRITICAL\tATTEMPTS\tFIRST ERROR\tLAST ERROR\tREASON")
	for _, d := range page.DeadLetters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, dash(d.IncidentID), dash(d.CallID), dash(sidecar.NoteTypeLabel(d.Type, d.Source)),
			yesNo(d.Critical), d.Attempts, stamp(d.FirstErrorAt), stamp(d.LastErrorAt), oneLine(d.Reason))
	}
	_ = tw.Flush()
	if content {
		for _, d := range page.DeadLetters {
			fmt.Fprintf(w, "\n%s (incident %s)\n  text:     %s\n  evidence: %s\n", d.ID, dash(d.IncidentID), flat(d.Text), flat(d.Evidence))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d dead letters (%s). Replay: cad-sidecar deadletter replay ID|--all; drop: cad-sidecar deadletter drop ID\n",
		sum(page.Total), perTopic(page.Total))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// flat puts s on one line, whole.
func flat(s string) string { return dash(strings.Join(strings.Fields(s), " ")) }

// oneLine keeps a table cell on one line, bounded.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return dash(s)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func perTopic(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
