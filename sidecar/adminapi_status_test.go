package sidecar_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// A known state: the CAD is down (every poll and note write fails), two notes wait for
// INC-S1, three links are stored: status says exactly that.
func TestAdminStatusNumbers(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	for i, text := range []string{"first", "second"} {
		if resp, body := post(t, e.hookURL, hookToken, noteBodyAt("INC-S1", text, i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %d %s", resp.StatusCode, body)
		}
	}
	for _, id := range []string{"INC-A", "INC-B", "INC-C"} {
		if err := e.s.Store().PutLink(outbox.Link{IncidentID: id, CallID: "call-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	var st sidecar.Status
	waitFor(t, 10*time.Second, "a failed poll in the status", func() bool {
		e.api(t, "GET", "/api/v1/status", "", &st)
		return st.CAD.LastPoll != nil && st.CAD.LastPollError != ""
	})
	if st.Version != "dev" || st.Mode != "normal" || st.StartedAt.IsZero() || st.StartedAt.Location() != time.UTC {
		t.Errorf("version %q, mode %q, started_at %v", st.Version, st.Mode, st.StartedAt)
	}
	if st.CAD.Adapter != "rest" || st.CAD.Sink != "rest" || st.CAD.LastPollOK || st.CAD.LastContact != nil {
		t.Errorf("cad: %+v, want rest/rest, last poll failed, no contact", st.CAD)
	}
	if st.Ready.Ready || st.Ready.Checks["cad_poll"].OK {
		t.Errorf("ready: %+v, want not ready (cad_poll)", st.Ready)
	}
	if !st.Assist.Webhook.Registered || st.Assist.Webhook.ID != "" {
		t.Errorf("assist webhook: %+v, want registered (register: false) with no id", st.Assist.Webhook)
	}
	if st.Links.Count != 3 {
		t.Errorf("links.count %d, want 3", st.Links.Count)
	}
	note, link := st.Outbox["note"], st.Outbox["link"]
	if note.Depth != 2 || note.Dead != 0 || note.OldestAgeSeconds <= 0 || note.OldestAgeSeconds > 60 {
		t.Errorf("outbox.note %+v, want depth 2, no dead, a small positive age", note)
	}
	if link.Depth != 0 || link.OldestAgeSeconds != 0 {
		t.Errorf("outbox.link %+v, want empty", link)
	}
	// The raw JSON has the documented keys (null times included).
	var raw map[string]any
	e.api(t, "GET", "/api/v1/status", "", &raw)
	cad := raw["cad"].(map[string]any)
	for _, k := range []string{"last_contact", "last_poll", "last_poll_ok", "last_poll_error", "cursor", "cursor_kind", "sink", "adapter"} {
		if _, ok := cad[k]; !ok {
			t.Errorf("status.cad has no %q: %v", k, cad)
		}
	}
	if cad["last_contact"] != nil {
		t.Errorf("status.cad.last_contact = %v, want null", cad["last_contact"])
	}
}

// After a good poll and a delivered note: the contacts are set and the poll is ok.
func TestAdminStatusContacts(t *testing.T) {
	e := start(t, envOptions{})
	e.cad.AddIncident()
	var st sidecar.Status
	waitFor(t, 15*time.Second, "a link, a good poll and both contacts", func() bool {
		e.api(t, "GET", "/api/v1/status", "", &st)
		return st.Links.Count > 0 && st.CAD.LastPollOK && st.CAD.LastContact != nil && st.Assist.LastContact != nil
	})
	if st.CAD.Cursor == "" || st.CAD.LastPollError != "" {
		t.Errorf("cad %+v: want a cursor and no error", st.CAD)
	}
}

func TestAdminLinksPaging(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	ids := []string{"INC-1", "INC-2", "INC-3", "INC-4", "INC-5"}
	for _, id := range ids {
		if err := e.s.Store().PutLink(outbox.Link{IncidentID: id, CallID: "call-" + id, UserID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.s.Store().SetCallStatus("call-INC-2", "ENDED", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if resp, body := post(t, e.hookURL, hookToken, noteBodyAt("INC-3", "waiting", 0)); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	var got []sidecar.LinkView
	after, pages := "", 0
	for {
		var page sidecar.LinkPage
		path := "/api/v1/links?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		if code, body := e.api(t, "GET", path, "", &page); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		pages++
		if len(page.Links) > 2 {
			t.Fatalf("page of %d links with limit=2", len(page.Links))
		}
		got = append(got, page.Links...)
		if page.Next == "" {
			break
		}
		after = page.Next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || len(got) != len(ids) {
		t.Fatalf("%d pages, %d links; want 3 pages of the 5 links", pages, len(got))
	}
	for i, l := range got {
		if l.IncidentID != ids[i] || l.CallID != "call-"+ids[i] || l.LinkedAt.IsZero() {
			t.Errorf("link %d: %+v, want %s in incident order", i, l, ids[i])
		}
	}
	if got[1].CallStatus != "ENDED" {
		t.Errorf("INC-2 call_status %q, want ENDED", got[1].CallStatus)
	}
	if got[2].QueuedNotes != 1 || got[2].LastNote == nil || got[2].LastNote.State != "queued" || got[2].LastNote.Type != "INFO" || !got[2].LastNote.Critical {
		t.Errorf("INC-3: %+v (last note %+v), want one queued critical INFO note", got[2], got[2].LastNote)
	}
	if got[0].LastNote != nil || got[0].QueuedNotes != 0 {
		t.Errorf("INC-1: %+v, want no note", got[0])
	}
	var one sidecar.LinkPage
	e.api(t, "GET", "/api/v1/links?incident=INC-4", "", &one)
	if len(one.Links) != 1 || one.Links[0].IncidentID != "INC-4" || one.Next != "" {
		t.Errorf("incident=INC-4: %+v", one)
	}
	e.api(t, "GET", "/api/v1/links?incident=NOPE", "", &one)
	if len(one.Links) != 0 {
		t.Errorf("incident=NOPE: %+v, want none", one)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x"} {
		if code, _ := e.api(t, "GET", "/api/v1/links?"+bad, "", nil); code != http.StatusBadRequest {
			t.Errorf("links?%s: %d, want 400", bad, code)
		}
	}
}

// noteBodyAt is a webhook note for incident with a creation time i seconds after a fixed one.
func noteBodyAt(incident, text string, i int) string {
	return fmt.Sprintf(`{"callId":"call-1","incidentId":%q,"note":{"type":"INFO","note":%q,"critical":true,"createdAt":"2026-11-25T10:00:%02dZ"}}`, incident, text, i)
}
