package sidecar_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A CAD record whose incident id is not an id ("..", 5,000 characters) is reported as a
// mapping error and skipped, in a log line of bounded size; the good record of the same
// poll is linked.
func TestCADRecordWithBadIncidentIDIsSkipped(t *testing.T) {
	long := strings.Repeat("7", 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"data":[{"IncidentNumber":"..","updated":1},{"IncidentNumber":%q,"updated":2},{"IncidentNumber":"INC-OK","Status":"OPEN","Pri":"1","updated":3}]}`, long)
	}))
	defer srv.Close()
	e := start(t, envOptions{cadURL: srv.URL})
	waitFor(t, 20*time.Second, "the good record linked", func() bool { _, ok := e.as.LastLink("INC-OK"); return ok })
	waitFor(t, 10*time.Second, "both bad records reported", func() bool {
		return strings.Count(e.logs.String(), "CAD record skipped: mapping failed") >= 2
	})
	if n := e.as.LinkRequests(); n != 1 {
		t.Fatalf("%d link requests, want 1 (only INC-OK)", n)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `is not an id`) || !strings.Contains(logs, "longer than 256") {
		t.Fatalf("the log does not say what is wrong with the ids:\n%.3000s", logs)
	}
	for i, line := range strings.Split(logs, "\n") {
		if len(line) > 2048 {
			t.Fatalf("log line %d is %d bytes: %.300s…", i, len(line), line)
		}
	}
}
