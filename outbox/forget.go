package outbox

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ForgetIncident removes, in one transaction, the link of an incident (and its call index
// entry) and the given small-state entries ("bucket/key" pairs of Get/Put), so that state
// of incidents long finished does not grow the file for years. It is a no-op for an unknown
// incident.
func (s *Store) ForgetIncident(incidentID string, state ...[2]string) error {
	err := s.update(func(tx *bolt.Tx) error {
		l, ok, err := getLink(tx, incidentID)
		if err != nil {
			return err
		}
		if ok {
			if err := tx.Bucket(bktLinks).Delete([]byte(incidentID)); err != nil {
				return err
			}
			byCall := tx.Bucket(bktLinksByCall)
			if l.CallID != "" && string(byCall.Get([]byte(l.CallID))) == incidentID {
				if err := byCall.Delete([]byte(l.CallID)); err != nil {
					return err
				}
			}
		}
		for _, bk := range state {
			if b := tx.Bucket([]byte(kvPrefix + bk[0])); b != nil {
				if err := b.Delete([]byte(bk[1])); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: forget incident %s: %w", incidentID, err)
	}
	return nil
}
