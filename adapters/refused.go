package adapters

import (
	"fmt"
	"strings"
)

// RefusedRecord is one record of an AllOrNothing batch that the mapping refused.
type RefusedRecord struct {
	// Index is the record's position in Batch.Records.
	Index int
	// IncidentID is the record's incident id as the mapping reads it ("" = not readable).
	IncidentID string
	// Reason is why the mapping refused it (the mapping's error; it names fields, not
	// their values).
	Reason string
}

// Refused is what Emit returns for an AllOrNothing batch of which the mapping refused a
// record: nothing of the batch was queued.
type Refused struct {
	Records []RefusedRecord
}

// maxRefusedListed bounds how many refused records Error lists.
const maxRefusedListed = 5

// Error lists the refused records (the first few), each with its incident id when known.
func (e *Refused) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d record(s) refused by the mapping, none stored", len(e.Records))
	for i, r := range e.Records {
		if i == maxRefusedListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Records)-i)
			break
		}
		id := r.IncidentID
		if id == "" {
			id = "(unknown)"
		}
		fmt.Fprintf(&b, "; record %d (incident %s): %s", r.Index, id, r.Reason)
	}
	return b.String()
}
