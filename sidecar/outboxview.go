package sidecar

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The outbox's pending messages as an operator sees them (GET /api/v1/outbox, `cad-sidecar
// outbox list`) and "retry now" (POST /api/v1/outbox/retry). The admin API and the CLI's
// offline mode both use these functions. Payloads (which may hold note text and caller
// data) are shown only when asked for.

// Outbox listing limits.
const (
	DefaultOutboxLimit = 100
	MaxOutboxLimit     = 1000
)

// OutboxQuery selects a page of pending messages.
type OutboxQuery struct {
	Topic   string // link | note | "" (every topic, in name order)
	After   string // an id (note-42): the page starts after it
	Limit   int    // 0 = DefaultOutboxLimit; at most MaxOutboxLimit
	Content bool   // include the payload
}

// OutboxMessage is one pending message.
type OutboxMessage struct {
	ID            string          `json:"id"` // "<topic>-<seq>", as dead letters
	Topic         string          `json:"topic"`
	Key           string          `json:"key"` // the incident id
	Seq           uint64          `json:"seq"`
	Attempts      int             `json:"attempts"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"` // null: due (or waiting behind its key's head)
	LastError     string          `json:"last_error"`
	Type          string          `json:"type,omitempty"`   // a note's type (noteLabel)
	Source        string          `json:"source,omitempty"` // SourceSummaryFallback; "" = Assist
	Critical      bool            `json:"critical"`
	Payload       json.RawMessage `json:"payload,omitempty"`
}

// OutboxPage is one page, in queue order per topic.
type OutboxPage struct {
	Messages []OutboxMessage `json:"messages"`
	Next     string          `json:"next"` // pass as after for the next page; "" on the last
}

// ListOutbox returns one page of pending messages.
func ListOutbox(st *outbox.Store, q OutboxQuery) (OutboxPage, error) {
	known, _, err := topics(st)
	if err != nil {
		return OutboxPage{}, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultOutboxLimit
	case limit < 0 || limit > MaxOutboxLimit:
		return OutboxPage{}, inputErrorf("bad limit %d: want 1 to %d", limit, MaxOutboxLimit)
	}
	list := known
	if q.Topic != "" {
		t, err := checkTopic(known, q.Topic)
		if err != nil {
			return OutboxPage{}, err
		}
		list = []outbox.Topic{t}
	}
	var afterTopic outbox.Topic
	var afterSeq uint64
	if q.After != "" {
		if afterTopic, afterSeq, err = parseID(known, q.After); err != nil {
			return OutboxPage{}, err
		}
		if !slices.Contains(list, afterTopic) {
			return OutboxPage{}, inputErrorf("after %q is not of topic %q", q.After, q.Topic)
		}
	}
	page := OutboxPage{Messages: []OutboxMessage{}}
	for _, t := range list {
		if afterTopic != "" && t < afterTopic {
			continue
		}
		after := uint64(0)
		if t == afterTopic {
			after = afterSeq
		}
		want := limit - len(page.Messages)
		ms, err := st.PendingAfter(t, after, want+1) // one more: is there a next page?
		if err != nil {
			return OutboxPage{}, err
		}
		for i, m := range ms {
			if i == want {
				page.Next = page.Messages[len(page.Messages)-1].ID
				return page, nil
			}
			page.Messages = append(page.Messages, outboxView(m, q.Content))
		}
		if len(page.Messages) == limit {
			for _, later := range list { // full: a next page if a later topic has any
				if later <= t {
					continue
				}
				if more, err := st.PendingAfter(later, 0, 1); err != nil {
					return OutboxPage{}, err
				} else if len(more) > 0 {
					page.Next = page.Messages[len(page.Messages)-1].ID
					break
				}
			}
			return page, nil
		}
	}
	return page, nil
}

func outboxView(m outbox.Message, content bool) OutboxMessage {
	v := OutboxMessage{ID: DeadLetterID(m.Topic, m.Seq), Topic: string(m.Topic), Key: m.Key, Seq: m.Seq,
		Attempts: m.Attempts, CreatedAt: m.CreatedAt.UTC(), NextAttemptAt: optTime(m.NextAttempt), LastError: m.LastError}
	if m.Topic == outbox.TopicNote {
		var q queuedNote
		if json.Unmarshal(m.Payload, &q) == nil {
			v.Type, v.Critical, v.Source = noteLabel(q)
		}
	}
	if content {
		if json.Valid(m.Payload) {
			v.Payload = json.RawMessage(m.Payload)
		} else if len(m.Payload) > 0 {
			b, _ := json.Marshal(string(m.Payload))
			v.Payload = b
		}
	}
	return v
}

// RetryRequest is the body of POST /api/v1/outbox/retry: {} = every waiting message.
type RetryRequest struct {
	Topic string `json:"topic,omitempty"` // link | note | "" (both)
	Key   string `json:"key,omitempty"`   // one incident ("" = all)
}

// RetryOutbox clears the retry backoff of the messages waiting for their next attempt
// (outbox.Store.RetryNow) and returns how many were made due, per topic.
func RetryOutbox(st *outbox.Store, req RetryRequest) (map[string]int, error) {
	known, _, err := topics(st)
	if err != nil {
		return nil, err
	}
	list := known
	if req.Topic != "" {
		t, err := checkTopic(known, req.Topic)
		if err != nil {
			return nil, err
		}
		list = []outbox.Topic{t}
	}
	out := map[string]int{}
	for _, t := range known {
		out[string(t)] = 0
	}
	for _, t := range list {
		n, err := st.RetryNow(t, req.Key)
		out[string(t)] = n
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
