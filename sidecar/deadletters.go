package sidecar

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Dead letters as an operator sees them: the admin API (adminapi_deadletters.go) and the
// CLI's offline mode (cmd/cad-sidecar/deadletter.go) both use these functions, so the two
// show and do exactly the same.

// Listing limits.
const (
	DefaultDeadLetterLimit = 100
	MaxDeadLetterLimit     = 1000
)

// InputError is an operator's request the sidecar cannot act on (an unknown topic, a
// malformed id, a bad limit): nothing was changed. The admin API answers 400.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// DeadLetterView is one dead letter, decoded for an operator. Text, Evidence and Payload
// (which may hold caller data) are filled only when the content is asked for.
type DeadLetterView struct {
	ID         string `json:"id"` // "<topic>-<seq>", e.g. note-42: stable, printable
	Topic      string `json:"topic"`
	Seq        uint64 `json:"seq"`
	IncidentID string `json:"incident_id"`
	CallID     string `json:"call_id,omitempty"`
	// Type is the note type (INFO, CALL_COMPLETED), the event of an event note
	// (call_status, activation), or "link" for a link to Assist.
	Type         string    `json:"type"`
	Source       string    `json:"source,omitempty"` // SourceSummaryFallback; "" = Assist
	Critical     bool      `json:"critical"`
	Attempts     int       `json:"attempts"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	FirstErrorAt time.Time `json:"first_error_at,omitzero"`
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`
	DeadAt       time.Time `json:"dead_at,omitzero"`
	Reason       string    `json:"reason"`

	Text     string          `json:"text,omitempty"`
	Evidence string          `json:"evidence,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// DeadLetterQuery selects a page of dead letters.
type DeadLetterQuery struct {
	Topic   string // "" = every topic, in name order
	After   string // an id: the page starts after it ("" = from the start)
	Limit   int    // 0 = DefaultDeadLetterLimit; at most MaxDeadLetterLimit
	Content bool   // include Text, Evidence and Payload
}

// DeadLetterPage is one page of the listing.
type DeadLetterPage struct {
	DeadLetters []DeadLetterView `json:"dead_letters"`
	// Total counts the dead letters per topic (all of them, not only this page).
	Total map[string]int `json:"total"`
	// Next is the id to pass as after for the next page; "" on the last page.
	Next string `json:"next,omitempty"`
}

// DeadLetterID is the printable id of a dead letter.
func DeadLetterID(t outbox.Topic, seq uint64) string {
	return string(t) + "-" + strconv.FormatUint(seq, 10)
}

// topics returns the store's topics (with dead letters or not), sorted, and their counts.
func topics(st *outbox.Store) ([]outbox.Topic, map[string]int, error) {
	stats, err := st.Stats()
	if err != nil {
		return nil, nil, fmt.Errorf("outbox stats: %w", err)
	}
	ts := make([]outbox.Topic, 0, len(stats.Dead))
	total := make(map[string]int, len(stats.Dead))
	for t, n := range stats.Dead {
		ts = append(ts, t)
		total[string(t)] = n
	}
	slices.Sort(ts)
	return ts, total, nil
}

// checkTopic returns the topic named name, or an InputError naming the known ones.
func checkTopic(known []outbox.Topic, name string) (outbox.Topic, error) {
	if slices.Contains(known, outbox.Topic(name)) {
		return outbox.Topic(name), nil
	}
	names := make([]string, len(known))
	for i, t := range known {
		names[i] = string(t)
	}
	return "", inputErrorf("unknown topic %q (known: %s)", name, strings.Join(names, ", "))
}

// parseID splits an id such as note-42 and checks its topic.
func parseID(known []outbox.Topic, id string) (outbox.Topic, uint64, error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, inputErrorf("bad dead letter id %q: want <topic>-<number>, e.g. note-42", id)
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, inputErrorf("bad dead letter id %q: want <topic>-<number>, e.g. note-42", id)
	}
	t, err := checkTopic(known, id[:i])
	if err != nil {
		return "", 0, inputErrorf("bad dead letter id %q: %v", id, err)
	}
	return t, seq, nil
}

// ListDeadLetters returns one page of dead letters.
func ListDeadLetters(st *outbox.Store, q DeadLetterQuery) (DeadLetterPage, error) {
	known, total, err := topics(st)
	if err != nil {
		return DeadLetterPage{}, err
	}
	spec := pageSpec{topic: q.Topic, after: q.After, limit: q.Limit, defaultLimit: DefaultDeadLetterLimit, maxLimit: MaxDeadLetterLimit}
	fetch := func(t outbox.Topic, after uint64, n int) ([]DeadLetterView, error) {
		ds, err := st.ListDeadLetters(t, after, n)
		if err != nil {
			return nil, err
		}
		vs := make([]DeadLetterView, len(ds))
		for i, d := range ds {
			vs[i] = viewOf(d, q.Content)
		}
		return vs, nil
	}
	hasAny := func(t outbox.Topic) (bool, error) { return total[string(t)] > 0, nil }
	views, next, err := pageAcrossTopics(known, spec, fetch, func(v DeadLetterView) string { return v.ID }, hasAny)
	if err != nil {
		return DeadLetterPage{}, err
	}
	return DeadLetterPage{DeadLetters: views, Total: total, Next: next}, nil
}

// GetDeadLetter returns one dead letter by id (outbox.ErrNotFound if there is none).
func GetDeadLetter(st *outbox.Store, id string, content bool) (DeadLetterView, error) {
	known, _, err := topics(st)
	if err != nil {
		return DeadLetterView{}, err
	}
	t, seq, err := parseID(known, id)
	if err != nil {
		return DeadLetterView{}, err
	}
	d, err := st.DeadLetter(t, seq)
	if err != nil {
		return DeadLetterView{}, notFound(id, err)
	}
	return viewOf(d, content), nil
}

// ReplayDeadLetter puts one dead letter back into its queue.
func ReplayDeadLetter(st *outbox.Store, id string) error {
	known, _, err := topics(st)
	if err != nil {
		return err
	}
	t, seq, err := parseID(known, id)
	if err != nil {
		return err
	}
	return notFound(id, st.Replay(t, seq))
}

// ReplayDeadLetters replays every dead letter of topic ("" = of every topic) and returns
// how many were put back, per topic.
func ReplayDeadLetters(st *outbox.Store, topic string) (map[string]int, error) {
	known, _, err := topics(st)
	if err != nil {
		return nil, err
	}
	list := known
	if topic != "" {
		t, err := checkTopic(known, topic)
		if err != nil {
			return nil, err
		}
		list = []outbox.Topic{t}
	}
	out := map[string]int{}
	for _, t := range list {
		n, err := st.ReplayAll(t)
		out[string(t)] = n
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// DropDeadLetter deletes one dead letter for good.
func DropDeadLetter(st *outbox.Store, id string) error {
	known, _, err := topics(st)
	if err != nil {
		return err
	}
	t, seq, err := parseID(known, id)
	if err != nil {
		return err
	}
	return notFound(id, st.Drop(t, seq))
}

func notFound(id string, err error) error {
	if errors.Is(err, outbox.ErrNotFound) {
		return fmt.Errorf("no dead letter %s (replayed or dropped already?): %w", id, outbox.ErrNotFound)
	}
	return err
}

// viewOf decodes a dead letter's payload (a queuedNote or a LinkIncidentRequest) for an
// operator. A payload that does not decode still lists, with the outbox key as incident.
func viewOf(d outbox.DeadLetter, content bool) DeadLetterView {
	v := DeadLetterView{
		ID: DeadLetterID(d.Topic, d.Seq), Topic: string(d.Topic), Seq: d.Seq, IncidentID: d.Key,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt, FirstErrorAt: d.FirstErrorAt,
		LastErrorAt: d.LastErrorAt, DeadAt: d.DeadAt, Reason: d.Reason,
	}
	switch d.Topic {
	case outbox.TopicNote:
		var q queuedNote
		if json.Unmarshal(d.Payload, &q) == nil {
			v.IncidentID = cmp.Or(q.IncidentID, d.Key)
			v.CallID = q.CallID
			v.Type, v.Critical, v.Source = noteLabel(q)
			if content {
				v.Text = q.Note.Note
			}
		} else {
			v.Type = "undecodable"
		}
	case outbox.TopicLink:
		v.Type = "link"
		var req assist.LinkIncidentRequest
		if json.Unmarshal(d.Payload, &req) == nil && req.IncidentID != "" {
			v.IncidentID = req.IncidentID
		}
	}
	if content {
		v.Evidence = d.Evidence
		if json.Valid(d.Payload) {
			v.Payload = json.RawMessage(d.Payload)
		} else if len(d.Payload) > 0 {
			b, _ := json.Marshal(string(d.Payload))
			v.Payload = b
		}
	}
	return v
}
