package sidecar

import (
	"encoding/json"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Links as an operator sees them (GET /api/v1/links, `cad-sidecar links`): each incident
// with its call, the call's status, its latest note and how many notes wait for the CAD.
// The admin API and the CLI's offline mode both use ListLinks.

// Link listing limits.
const (
	DefaultLinkLimit = 100
	MaxLinkLimit     = 1000
)

// LinkQuery selects a page of links.
type LinkQuery struct {
	Incident string // only this incident ("" = all)
	After    string // an incident id: the page starts after it
	Limit    int    // 0 = DefaultLinkLimit; at most MaxLinkLimit
}

// LinkView is one incident ↔ call link.
type LinkView struct {
	IncidentID  string    `json:"incident_id"`
	CallID      string    `json:"call_id"`
	CallStatus  string    `json:"call_status"` // STARTED | ENDED | "" (none seen yet)
	LinkedAt    time.Time `json:"linked_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	LastNote    *LastNote `json:"last_note"`
	QueuedNotes int       `json:"queued_notes"`
}

// LastNote is the latest note of an incident the sidecar knows of: still queued, else the
// latest one delivered or given up that its trace holds. No text.
type LastNote struct {
	At       time.Time `json:"at"`
	Type     string    `json:"type"`
	Source   string    `json:"source,omitempty"` // SourceSummaryFallback; "" = Assist
	Critical bool      `json:"critical"`
	State    string    `json:"state"` // delivered | queued | dead
}

// LinkPage is one page of links, sorted by incident id.
type LinkPage struct {
	Links []LinkView `json:"links"`
	Next  string     `json:"next"` // pass as after for the next page; "" on the last
}

// ListLinks returns one page of links.
func ListLinks(st *outbox.Store, q LinkQuery) (LinkPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLinkLimit
	case limit < 0 || limit > MaxLinkLimit:
		return LinkPage{}, inputErrorf("bad limit %d: want 1 to %d", limit, MaxLinkLimit)
	}
	page := LinkPage{Links: []LinkView{}}
	var links []outbox.Link
	if q.Incident != "" {
		l, ok, err := st.GetLink(q.Incident)
		if err != nil {
			return LinkPage{}, err
		}
		if ok {
			links = []outbox.Link{l}
		}
	} else {
		var more bool
		var err error
		if links, more, err = st.LinksAfter(q.After, limit); err != nil {
			return LinkPage{}, err
		}
		if more {
			page.Next = links[len(links)-1].IncidentID
		}
	}
	for _, l := range links {
		v, err := linkView(st, l)
		if err != nil {
			return LinkPage{}, err
		}
		page.Links = append(page.Links, v)
	}
	return page, nil
}

func linkView(st *outbox.Store, l outbox.Link) (LinkView, error) {
	v := LinkView{IncidentID: l.IncidentID, CallID: l.CallID, CallStatus: l.Status,
		LinkedAt: l.LinkedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	// The last queued note is the latest one (FIFO): only the tail is decoded.
	msgs, n, err := st.PendingOf(outbox.TopicNote, l.IncidentID, 0)
	if err != nil {
		return LinkView{}, err
	}
	v.QueuedNotes = n
	if n > 0 {
		m := msgs[len(msgs)-1]
		ln := &LastNote{At: m.CreatedAt.UTC(), State: "queued"}
		var qn queuedNote
		if json.Unmarshal(m.Payload, &qn) == nil {
			ln.Type, ln.Critical, ln.Source = noteLabel(qn)
		}
		v.LastNote = ln
		return v, nil
	}
	ln, err := lastNoteOfTrace(st, l.IncidentID)
	if err != nil {
		return LinkView{}, err
	}
	v.LastNote = ln
	return v, nil
}
