package rest

import (
	"net/http"
	"strings"
	"testing"
)

// A detail the CAD answers 500 for ever while it answers the others (a vendor API that
// fails on one archived incident) is one bad thing: it must be given up after a bounded
// number of polls, like a note the CAD keeps refusing — not fetched at every poll for
// ever, its listed record kept in detail.retry for ever (one more entry per such
// incident: the list, and the requests of every poll, only grow).
func TestDetailFailingForEverWhileOthersAnswerIsGivenUp(t *testing.T) {
	api, src, st := detailSource(t, 10, nil)
	incidents := api.CAD().Incidents()
	bad := incidents[3]
	api.FailDetail(bad, http.StatusInternalServerError)
	cursor := pollDurable(t, src, "0").Cursor
	polls := 5 * detailGiveUp
	for i := range polls {
		// Each poll the CAD also lists one changed incident, whose detail it answers.
		api.CAD().UpdateIncident(incidents[(i%5)+5])
		b := pollDurable(t, src, cursor)
		if len(b.Records) != 1 {
			t.Fatalf("poll %d: %d records, want the changed incident", i, len(b.Records))
		}
		cursor = b.Cursor
	}
	if v, _, _ := st.Get(retryKey); strings.Contains(v, bad) {
		t.Errorf("after %d polls in which the CAD answered the other details, the detail of %s that fails every time is still retried (asked %d times; detail.retry %d bytes)",
			polls, bad, api.DetailRequests(bad), len(v))
	}
	if got := metricValue(src.m.details.WithLabelValues("given_up")); got != 1 {
		t.Errorf("cad_sidecar_rest_details_total{result=\"given_up\"} = %v, want 1", got)
	}
}
