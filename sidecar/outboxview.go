package sidecar

import (
	"encoding/json"
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
	spec := pageSpec{topic: q.Topic, after: q.After, limit: q.Limit, defaultLimit: DefaultOutboxLimit, maxLimit: MaxOutboxLimit}
	fetch := func(t outbox.Topic, after uint64, n int) ([]OutboxMessage, error) {
		ms, err := st.PendingAfter(t, after, n)
		if err != nil {
			return nil, err
		}
		vs := make([]OutboxMessage, len(ms))
		for i, m := range ms {
			vs[i] = outboxView(m, q.Content)
		}
		return vs, nil
	}
	hasAny := func(t outbox.Topic) (bool, error) {
		more, err := st.PendingAfter(t, 0, 1)
		return len(more) > 0, err
	}
	msgs, next, err := pageAcrossTopics(known, spec, fetch, func(m OutboxMessage) string { return m.ID }, hasAny)
	if err != nil {
		return OutboxPage{}, err
	}
	return OutboxPage{Messages: msgs, Next: next}, nil
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
