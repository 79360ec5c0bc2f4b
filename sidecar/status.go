package sidecar

import (
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// The sidecar's state at a glance (GET /api/v1/status): version and mode, readiness, the
// last contact with the CAD and with Assist, the last poll, the cursor, the webhook's
// registration, each outbox topic's depth, age and dead letters, and the link count. It
// reads memory and a few keys of the store: cheap enough to poll every few seconds.

// Status is the answer of GET /api/v1/status. Times are UTC; a time never seen is null.
type Status struct {
	Version   string       `json:"version"`
	StartedAt time.Time    `json:"started_at"`
	Mode      string       `json:"mode"` // normal | shadow-cad | shadow-all
	Ready     ReadyView    `json:"ready"`
	CAD       CADStatus    `json:"cad"`
	Assist    AssistStatus `json:"assist"`
	// Outbox is per topic ("link", "note").
	Outbox map[string]TopicStatus `json:"outbox"`
	Links  struct {
		Count int `json:"count"`
	} `json:"links"`
}

// ReadyView is the /readyz JSON.
type ReadyView struct {
	Ready  bool             `json:"ready"`
	Checks map[string]Check `json:"checks"`
}

// CADStatus is the CAD side of Status.
type CADStatus struct {
	Adapter string `json:"adapter"`
	Sink    string `json:"sink"` // the adapter writing notes, or "readonly"
	// LastContact: the last good poll or note accepted.
	LastContact *time.Time `json:"last_contact"`
	// LastPoll: the latest poll, good or failed; LastPollOK whether it succeeded, and
	// LastPollError its error when it did not.
	LastPoll      *time.Time `json:"last_poll"`
	LastPollOK    bool       `json:"last_poll_ok"`
	LastPollError string     `json:"last_poll_error"`
	Cursor        string     `json:"cursor"`
	CursorKind    string     `json:"cursor_kind"` // time | sequence | "" (not said by the adapter)
}

// AssistStatus is the Assist side of Status.
type AssistStatus struct {
	LastContact *time.Time `json:"last_contact"` // Assist's last answer to any request
	Webhook     struct {
		Registered bool   `json:"registered"`
		ID         string `json:"id"`
	} `json:"webhook"`
}

// TopicStatus is one outbox topic in Status.
type TopicStatus struct {
	Depth            int     `json:"depth"`              // pending messages
	OldestAgeSeconds float64 `json:"oldest_age_seconds"` // how long the oldest has waited (0: none)
	Dead             int     `json:"dead"`               // dead letters
}

// mode is the sidecar's mode as status shows it.
func (s *Sidecar) mode() string { return "normal" }

// Status returns the sidecar's state (see Status).
func (s *Sidecar) Status() (Status, error) {
	now := time.Now()
	st := Status{Version: s.version, StartedAt: s.startedAt.UTC(), Mode: s.mode()}
	st.Ready.Ready, st.Ready.Checks = s.Ready()
	st.CAD.Adapter, st.CAD.Sink = s.cfg.CAD.Adapter, s.sinkName()
	st.CAD.LastContact = gaugeTime(s.metrics.Ops.CADContact)
	good := s.lastPollOK.Load()
	last := s.pollFails.lastFailure()
	if good > 0 && time.Unix(0, good).After(last) {
		last = time.Unix(0, good)
	}
	st.CAD.LastPoll = optTime(last)
	if e := s.pollErr.Load(); e != nil {
		st.CAD.LastPollError = *e
	} else {
		st.CAD.LastPollOK = good > 0
	}
	var err error
	if st.CAD.Cursor, err = s.storedCursor(); err != nil {
		return Status{}, err
	}
	if st.CAD.CursorKind, _, err = s.store.Get(bucketCursor, cadCursorKindKey); err != nil {
		return Status{}, err
	}
	st.Assist.LastContact = gaugeTime(s.metrics.Ops.AssistContact)
	st.Assist.Webhook.Registered = s.registered.Load()
	if st.Assist.Webhook.ID, _, err = s.store.Get(bucketMeta, "webhook_id"); err != nil {
		return Status{}, err
	}
	stats, err := s.store.Stats()
	if err != nil {
		return Status{}, err
	}
	st.Outbox = map[string]TopicStatus{}
	for _, t := range []outbox.Topic{outbox.TopicLink, outbox.TopicNote} {
		ts := TopicStatus{Depth: stats.Pending[t], Dead: stats.Dead[t]}
		since, ok, err := s.store.OldestPending(t)
		if err != nil {
			return Status{}, err
		}
		if ok {
			ts.OldestAgeSeconds = max(now.Sub(since).Seconds(), 0)
		}
		st.Outbox[string(t)] = ts
	}
	if st.Links.Count, err = s.store.LinkCount(); err != nil {
		return Status{}, err
	}
	return st, nil
}

// gaugeTime reads a Unix-seconds gauge as a time (nil while it is 0: never).
func gaugeTime(g interface{ Write(*dto.Metric) error }) *time.Time {
	var m dto.Metric
	if g.Write(&m) != nil || m.GetGauge().GetValue() <= 0 {
		return nil
	}
	v := m.GetGauge().GetValue()
	sec := int64(v)
	return optTime(time.Unix(sec, int64((v-float64(sec))*1e9)))
}

// optTime is t in UTC, or nil when t is zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
