package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const outboxListUsage = `usage:
  cad-sidecar outbox list [--topic link|note] [--content] [--json] [--config FILE]
Lists the messages waiting in the outbox (links for Assist, notes for the CAD), oldest
first, with their attempts, next attempt and last error; the payload (note text: caller
data) only with --content. Works through the running sidecar's admin API, or on the data
file when it is stopped.
`

// cmdOutboxList lists the outbox's pending messages.
func cmdOutboxList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("outbox list", stderr)
	cfgPath := configFlag(fs)
	topic := fs.String("topic", "", "only this topic (link or note)")
	content := fs.Bool("content", false, "also show each payload: note text, caller data")
	asJSON := fs.Bool("json", false, "machine-readable JSON instead of a table")
	fs.Usage = func() { fmt.Fprint(stderr, outboxListUsage) }
	if code := parse(fs, args); code >= 0 {
		return code
	}
	t, code := openConfigured(ctx, *cfgPath, true, "outbox list", stderr)
	if t == nil {
		return code
	}
	defer t.close()
	msgs, err := t.outboxMessages(ctx, *topic, *content)
	if err != nil {
		return failed(stderr, "outbox list", err)
	}
	if *asJSON {
		printJSON(stdout, sidecar.OutboxPage{Messages: msgs})
		return exitOK
	}
	printOutbox(stdout, msgs, *content)
	return exitOK
}

// outboxMessages reads every page.
func (t *target) outboxMessages(ctx context.Context, topic string, content bool) ([]sidecar.OutboxMessage, error) {
	all := []sidecar.OutboxMessage{}
	q := sidecar.OutboxQuery{Topic: topic, Limit: sidecar.MaxOutboxLimit, Content: content}
	for {
		var page sidecar.OutboxPage
		var err error
		if t.store != nil {
			page, err = sidecar.ListOutbox(t.store, q)
		} else {
			err = t.call(ctx, "GET", topicPagePath("/api/v1/outbox", q.Limit, q.Topic, q.After, content), nil, &page)
		}
		if err != nil {
			return all, err
		}
		all = append(all, page.Messages...)
		if page.Next == "" {
			return all, nil
		}
		q.After = page.Next
	}
}

func printOutbox(w io.Writer, msgs []sidecar.OutboxMessage, content bool) {
	if len(msgs) == 0 {
		fmt.Fprintln(w, "the outbox is empty")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINCIDENT\tTYPE\tATTEMPTS\tCREATED\tNEXT ATTEMPT\tCRITICAL\tLAST ERROR")
	counts := map[string]int{}
	for _, m := range msgs {
		counts[m.Topic]++
		next := "now"
		if m.NextAttemptAt != nil && m.NextAttemptAt.After(time.Now()) {
			next = stamp(*m.NextAttemptAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", m.ID, m.Key, dash(sidecar.NoteTypeLabel(m.Type, m.Source)), m.Attempts, stamp(m.CreatedAt), next,
			yesNo(m.Critical), oneLine(m.LastError))
	}
	_ = tw.Flush()
	if content {
		for _, m := range msgs {
			fmt.Fprintf(w, "\n%s (incident %s)\n  payload: %s\n", m.ID, m.Key, flat(string(m.Payload)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d messages waiting (%s)\n", len(msgs), perTopic(counts))
}
