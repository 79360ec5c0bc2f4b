package sidecar_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// A note the CAD refuses (404: the incident does not exist yet) is a dead letter an
// operator can see, with its incident, call, type and reason but not its text; replay it
// once the CAD knows the incident, and it is delivered. Bad requests change nothing.
func TestDeadLettersThroughAdminAPI(t *testing.T) {
	e := start(t, envOptions{})
	const missing = "260045123" // the id the simulated CAD gives its first incident: none yet
	if resp, _ := post(t, e.hookURL, hookToken, noteBody(missing, "caller says the door is red")); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "the dead letter", func() bool { return e.stats(t).Dead[outbox.TopicNote] == 1 })
	if got := e.metric(t, "cad_sidecar_dead_letters", "topic", "note"); got != 1 {
		t.Fatalf("cad_sidecar_dead_letters{topic=note} = %v, want 1", got)
	}
	if got := e.metric(t, "cad_sidecar_dead_letters", "topic", "link"); got != 0 {
		t.Fatalf("cad_sidecar_dead_letters{topic=link} = %v, want 0", got)
	}

	var page sidecar.DeadLetterPage
	_, raw := e.api(t, "GET", "/api/v1/deadletters", "", &page)
	if len(page.DeadLetters) != 1 || page.Total["note"] != 1 || page.Next != "" {
		t.Fatalf("listing: %s", raw)
	}
	d := page.DeadLetters[0]
	if !strings.HasPrefix(d.ID, "note-") || d.IncidentID != missing || d.CallID != "call-1" || d.Type != "INFO" ||
		!d.Critical || d.Attempts != 1 || d.Reason == "" || d.FirstErrorAt.IsZero() || d.LastErrorAt.IsZero() || d.DeadAt.IsZero() {
		t.Fatalf("dead letter: %s", raw)
	}
	if strings.Contains(raw, "door is red") || d.Text != "" || d.Payload != nil {
		t.Fatalf("listing without content shows the note: %s", raw)
	}
	_, raw = e.api(t, "GET", "/api/v1/deadletters?topic=note&content=1", "", &page)
	if page.DeadLetters[0].Text != "caller says the door is red" || page.DeadLetters[0].Payload == nil {
		t.Fatalf("listing with content: %s", raw)
	}
	var one sidecar.DeadLetterView
	if code, raw := e.api(t, "GET", "/api/v1/deadletters/"+d.ID, "", &one); code != 200 || one.ID != d.ID || one.Text != "" {
		t.Fatalf("get one: %d %s", code, raw)
	}

	bad := []struct {
		method, path string
		want         int
		msg          string
	}{
		{"GET", "/api/v1/deadletters?topic=bogus", 400, `unknown topic \"bogus\" (known: link, note)`},
		{"GET", "/api/v1/deadletters?limit=abc", 400, "bad limit"},
		{"GET", "/api/v1/deadletters?limit=0", 400, "bad limit"},
		{"GET", "/api/v1/deadletters?limit=-1", 400, "bad limit"},
		{"GET", "/api/v1/deadletters?limit=100000", 400, "bad limit"},
		{"GET", "/api/v1/deadletters?content=maybe", 400, "bad content"},
		{"GET", "/api/v1/deadletters?after=note", 400, "bad dead letter id"},
		{"GET", "/api/v1/deadletters/note-999999", 404, "no dead letter note-999999"},
		{"POST", "/api/v1/deadletters/note-999999/replay", 404, "no dead letter"},
		{"POST", "/api/v1/deadletters/bogus-1/replay", 400, "unknown topic"},
		{"POST", "/api/v1/deadletters/replay?topic=bogus", 400, "unknown topic"},
		{"DELETE", "/api/v1/deadletters/note-abc", 400, "bad dead letter id"},
		{"DELETE", "/api/v1/deadletters/note-0", 400, "bad dead letter id"},
		{"DELETE", "/api/v1/deadletters/note-999999", 404, "no dead letter"},
	}
	for _, b := range bad {
		code, body := e.api(t, b.method, b.path, "", nil)
		if code != b.want || !strings.Contains(body, b.msg) {
			t.Errorf("%s %s = %d %s; want %d with %q", b.method, b.path, code, body, b.want, b.msg)
		}
		if st := e.stats(t); st.Dead[outbox.TopicNote] != 1 || st.Pending[outbox.TopicNote] != 0 {
			t.Fatalf("%s %s changed the outbox: %+v", b.method, b.path, st)
		}
	}

	// The CAD gets the incident; the replayed note reaches it.
	if id := e.cad.AddIncident(); id != missing {
		t.Fatalf("the simulated CAD numbered its first incident %s, the test expected %s", id, missing)
	}
	var rep struct{ Replayed map[string]int }
	if code, raw := e.api(t, "POST", "/api/v1/deadletters/"+d.ID+"/replay", "", &rep); code != 200 || rep.Replayed["note"] != 1 {
		t.Fatalf("replay: %d %s", code, raw)
	}
	waitFor(t, 10*time.Second, "the replayed note in the CAD", func() bool { return len(e.cad.Notes(missing)) == 1 })
	if !strings.HasSuffix(e.cad.Notes(missing)[0].Text, "caller says the door is red") {
		t.Fatalf("CAD note %+v", e.cad.Notes(missing))
	}
	if code, _ := e.api(t, "POST", "/api/v1/deadletters/"+d.ID+"/replay", "", nil); code != 404 {
		t.Fatalf("second replay of %s: %d, want 404", d.ID, code)
	}
	waitFor(t, 10*time.Second, "the gauge back at 0", func() bool { return e.metric(t, "cad_sidecar_dead_letters", "topic", "note") == 0 })

	// Replay all and drop: two more dead letters for an incident the CAD does not know.
	for _, txt := range []string{"one", "two"} {
		if resp, _ := post(t, e.hookURL, hookToken, noteBody("NOPE-1", txt)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %d", resp.StatusCode)
		}
	}
	waitFor(t, 10*time.Second, "two dead letters", func() bool { return e.stats(t).Dead[outbox.TopicNote] == 2 })
	if code, raw := e.api(t, "GET", "/api/v1/deadletters?limit=1", "", &page); code != 200 || len(page.DeadLetters) != 1 || page.Next == "" {
		t.Fatalf("first page: %s", raw)
	}
	first, next := page.DeadLetters[0].ID, page.Next
	page = sidecar.DeadLetterPage{}
	if code, raw := e.api(t, "GET", "/api/v1/deadletters?limit=1&after="+next, "", &page); code != 200 || len(page.DeadLetters) != 1 ||
		page.DeadLetters[0].ID == first || page.Next != "" {
		t.Fatalf("second page: %s", raw)
	}
	if code, raw := e.api(t, "POST", "/api/v1/deadletters/replay?topic=note", "", &rep); code != 200 || rep.Replayed["note"] != 2 {
		t.Fatalf("replay all: %d %s", code, raw)
	}
	// The CAD still refuses them: they come back as new dead letters (new ids).
	waitFor(t, 10*time.Second, "dead again", func() bool {
		ds, _ := e.s.Store().DeadLetters(outbox.TopicNote)
		return len(ds) == 2 && ds[0].ReplayedAt.After(ds[0].CreatedAt)
	})
	e.api(t, "GET", "/api/v1/deadletters", "", &page)
	for _, d := range page.DeadLetters {
		var dropped struct{ Dropped string }
		if code, raw := e.api(t, "DELETE", "/api/v1/deadletters/"+d.ID, "", &dropped); code != 200 || dropped.Dropped != d.ID {
			t.Fatalf("drop %s: %d %s", d.ID, code, raw)
		}
	}
	if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 || st.Pending[outbox.TopicNote] != 0 {
		t.Fatalf("after drop: %+v", st)
	}
}
