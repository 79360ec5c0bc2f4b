package rest

import (
	"encoding/json"
	"fmt"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// resumeKey is the adapter State key of the paged read in progress (a sequence).
const resumeKey = "poll.resume"

// sequence is one paged read of the list from one cursor, which may take several polls
// (max_pages each). It is stored after each poll's batch is durable, so a poll after a
// restart goes on from the page the last durable one stopped at; a crash before that
// reads the same pages again (their records are unchanged: not linked again).
type sequence struct {
	// Since is the host's cursor the read started from: a stored sequence of another
	// cursor (an operator's `cursor set`, or a crash after the final batch) is dropped.
	Since string `json:"since"`
	// Pos is the next page.
	Pos position `json:"pos"`
	// Cursor is the largest poll.cursor_field value read so far (Since at first).
	Cursor string `json:"cursor"`
	// Shifted: a record was listed twice (the list changed while it was paged, so one
	// may have been skipped): the read ends without moving the cursor.
	Shifted bool `json:"shifted,omitempty"`
	// IDs are the identities of the records read so far (poll.id_field), to see shifts.
	IDs []string `json:"ids,omitempty"`
	// Pages counts the pages read.
	Pages int `json:"pages"`
}

// loadSequence is the stored sequence from since, or a new one.
func loadSequence(st adapters.State, since string) (*sequence, error) {
	v, ok, err := st.Get(resumeKey)
	if err != nil {
		return nil, fmt.Errorf("rest: read the poll's page position: %w", err)
	}
	if ok {
		var s sequence
		if json.Unmarshal([]byte(v), &s) == nil && s.Since == since && s.Pos.Started {
			return &s, nil
		}
	}
	return &sequence{Since: since, Cursor: since}, nil
}

// saveSequence stores s (nil: deletes the stored one).
func saveSequence(st adapters.State, s *sequence) error {
	if s == nil {
		if err := st.Delete(resumeKey); err != nil {
			return fmt.Errorf("rest: clear the poll's page position: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := st.Put(resumeKey, string(b)); err != nil {
		return fmt.Errorf("rest: store the poll's page position: %w", err)
	}
	return nil
}
