package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Small state. Each call below is an fsynced bbolt transaction: PutLink the writer's (group
// commit, shared with other requests waiting), the others one of their own.

// Call statuses.
const (
	StatusStarted = "STARTED"
	StatusEnded   = "ENDED"
)

// Link ties a CAD incident to an Assist call.
type Link struct {
	IncidentID string    `json:"incidentId"`
	CallID     string    `json:"callId"`
	UserID     string    `json:"userId,omitempty"`
	Status     string    `json:"status,omitempty"` // "" (linked, no status yet) | "STARTED" | "ENDED"
	LinkedAt   time.Time `json:"linkedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	EndedAt    time.Time `json:"endedAt"`
}

type pendingStatus struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// PutLink upserts the link of l.IncidentID and maintains the callId → incidentId index
// (removing the old entry when the CallID changed).
//
//   - If l.Status == "" and the CallID is unchanged, the stored Status and EndedAt are kept.
//   - A zero LinkedAt keeps the stored one (same CallID) or becomes now; a zero UpdatedAt
//     becomes now.
//   - A status that SetCallStatus recorded for this CallID before the link existed is
//     applied now (and forgotten).
//   - If another incident had the same CallID, the index now points to this one.
//
// It is committed by the writer (group commit): the links that concurrent deliveries store
// share one transaction with each other and with their acks.
func (s *Store) PutLink(l Link) error {
	if l.IncidentID == "" {
		return errors.New("outbox: put link: empty incident id")
	}
	if s.isClosed() {
		return ErrClosed
	}
	r := getReq()
	defer putReq(r)
	r.kind, r.link = opPutLink, l
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return fmt.Errorf("outbox: put link %s: %w", l.IncidentID, err)
	}
	if r.err != nil {
		return fmt.Errorf("outbox: put link %s: %w", l.IncidentID, r.err)
	}
	s.addUnlinked(-r.freed)
	return nil
}

// applyPutLink is PutLink inside the writer's transaction; r.freed is set to the bytes of
// the pending status it applied (unlinked state).
func applyPutLink(tx *bolt.Tx, r *writeReq, now time.Time) error {
	l := r.link
	old, exists, err := getLink(tx, l.IncidentID)
	if err != nil {
		return err
	}
	sameCall := exists && old.CallID == l.CallID
	if sameCall && l.Status == "" {
		l.Status = old.Status
		if l.EndedAt.IsZero() {
			l.EndedAt = old.EndedAt
		}
	}
	if l.LinkedAt.IsZero() {
		l.LinkedAt = now
		if sameCall {
			l.LinkedAt = old.LinkedAt
		}
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = now
	}
	byCall := tx.Bucket(bktLinksByCall)
	if exists && old.CallID != "" && old.CallID != l.CallID {
		if string(byCall.Get([]byte(old.CallID))) == l.IncidentID {
			if err := byCall.Delete([]byte(old.CallID)); err != nil {
				return err
			}
		}
	}
	if l.CallID != "" {
		ps := tx.Bucket(bktPendingStatus)
		if v := ps.Get([]byte(l.CallID)); v != nil {
			var p pendingStatus
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("pending status of call %s: %w", l.CallID, err)
			}
			applyStatus(&l, p.Status, p.At)
			r.freed = int64(len(l.CallID) + len(v))
			if err := ps.Delete([]byte(l.CallID)); err != nil {
				return err
			}
		}
		if err := byCall.Put([]byte(l.CallID), []byte(l.IncidentID)); err != nil {
			return err
		}
	}
	return putLink(tx, l)
}

// GetLink returns the link of an incident.
func (s *Store) GetLink(incidentID string) (Link, bool, error) {
	var (
		l  Link
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) (err error) {
		l, ok, err = getLink(tx, incidentID)
		return err
	})
	if err != nil {
		return Link{}, false, fmt.Errorf("outbox: get link %s: %w", incidentID, err)
	}
	return l, ok, nil
}

// LinkByCall returns the link whose CallID is callID.
func (s *Store) LinkByCall(callID string) (Link, bool, error) {
	var (
		l  Link
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) (err error) {
		l, ok, err = linkByCall(tx, callID)
		return err
	})
	if err != nil {
		return Link{}, false, fmt.Errorf("outbox: link by call %s: %w", callID, err)
	}
	return l, ok, nil
}

// Links returns all links sorted by IncidentID.
func (s *Store) Links() ([]Link, error) {
	var out []Link
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktLinks).ForEach(func(k, v []byte) error {
			var l Link
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("link %s: %w", k, err)
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: links: %w", err)
	}
	return out, nil
}

// SetCallStatus records a call status (STARTED, ENDED, ...) for callID at time at (zero =
// now). If a link has that CallID it is updated and returned (true). Otherwise (the status
// can arrive before the link answer is stored) the status is remembered and applied by
// PutLink when that CallID appears. Such a kept status is unlinked state (unlinked.go):
// it counts toward MaxBytes (ErrFull, nothing written, once the budget is reached) and is
// forgotten by ExpireUnlinked. A call never goes back from ENDED to STARTED.
func (s *Store) SetCallStatus(callID, status string, at time.Time) (Link, bool, error) {
	if callID == "" {
		return Link{}, false, errors.New("outbox: set call status: empty call id")
	}
	if at.IsZero() {
		at = s.opts.Now()
	}
	var (
		l     Link
		ok    bool
		delta int64 // change of the unlinked bytes
	)
	full := s.unlinkedFull() // read before the transaction: s.mu is not taken inside one
	err := s.update(func(tx *bolt.Tx) (err error) {
		delta = 0
		l, ok, err = linkByCall(tx, callID)
		if err != nil {
			return err
		}
		if ok {
			applyStatus(&l, status, at)
			return putLink(tx, l)
		}
		ps := tx.Bucket(bktPendingStatus)
		old := ps.Get([]byte(callID))
		if old != nil {
			var p pendingStatus
			if json.Unmarshal(old, &p) == nil && p.Status == StatusEnded && status != StatusEnded {
				return nil
			}
		}
		v, err := json.Marshal(pendingStatus{Status: status, At: at})
		if err != nil {
			return err
		}
		delta = int64(len(callID) + len(v))
		if old != nil {
			delta -= int64(len(callID) + len(old))
		}
		if delta > 0 && full {
			return ErrFull
		}
		return ps.Put([]byte(callID), v)
	})
	if err != nil {
		return Link{}, false, fmt.Errorf("outbox: set status of call %s: %w", callID, err)
	}
	s.addUnlinked(delta)
	return l, ok, nil
}

func applyStatus(l *Link, status string, at time.Time) {
	if l.Status == StatusEnded && status != StatusEnded {
		return
	}
	l.Status = status
	if at.After(l.UpdatedAt) {
		l.UpdatedAt = at
	}
	if status == StatusEnded && l.EndedAt.IsZero() {
		l.EndedAt = at
	}
}

func getLink(tx *bolt.Tx, incidentID string) (Link, bool, error) {
	v := tx.Bucket(bktLinks).Get([]byte(incidentID))
	if v == nil {
		return Link{}, false, nil
	}
	var l Link
	if err := json.Unmarshal(v, &l); err != nil {
		return Link{}, false, fmt.Errorf("link %s: %w", incidentID, err)
	}
	return l, true, nil
}

func linkByCall(tx *bolt.Tx, callID string) (Link, bool, error) {
	id := tx.Bucket(bktLinksByCall).Get([]byte(callID))
	if id == nil {
		return Link{}, false, nil
	}
	l, ok, err := getLink(tx, string(id))
	if err != nil || !ok || l.CallID != callID {
		return Link{}, false, err
	}
	return l, true, nil
}

func putLink(tx *bolt.Tx, l Link) error {
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bktLinks).Put([]byte(l.IncidentID), v)
}

// Get returns a value of the generic state (buckets used by callers: "cursor", "hash",
// "meta"; any name works).
func (s *Store) Get(bucket, key string) (string, bool, error) {
	var (
		val string
		ok  bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(kvPrefix + bucket)); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				val, ok = string(v), true
			}
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("outbox: get %s/%s: %w", bucket, key, err)
	}
	return val, ok, nil
}

// Put stores a value of the generic state, creating the bucket on demand.
func (s *Store) Put(bucket, key, value string) error {
	if bucket == "" || key == "" {
		return fmt.Errorf("outbox: put %q/%q: empty bucket or key", bucket, key)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(kvPrefix + bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(value))
	})
	if err != nil {
		return fmt.Errorf("outbox: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes a value of the generic state (no error if absent).
func (s *Store) Delete(bucket, key string) error {
	err := s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(kvPrefix + bucket)); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}
