package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

const token = "api-token"

func newAssist(t *testing.T, o AssistOptions) (*Assist, *httptest.Server) {
	t.Helper()
	o.Token = token
	if o.NoteEvery == 0 {
		o.NoteEvery = 5 * time.Millisecond
	}
	a := NewAssist(o)
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return a, srv
}

// call sends a JSON request with the bearer token (tok "" = none) and decodes the answer.
func call(t *testing.T, method, url, tok string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// receiver is a webhook target recording what it got; fail decides per request whether
// to answer 503.
type receiver struct {
	mu     sync.Mutex
	events []map[string]any
	auth   []string
	n      int
	fail   func(n int) bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.n++
	if rc.fail != nil && rc.fail(rc.n) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.events = append(rc.events, m)
	rc.auth = append(rc.auth, r.Header.Get("Authorization"))
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) got() ([]map[string]any, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.events...), append([]string(nil), rc.auth...)
}

func waitIdle(t *testing.T, a *Assist) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d calls pending", a.Pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func register(t *testing.T, srv *httptest.Server, target string) {
	t.Helper()
	var resp assist.WebhookRegistrationResponse
	code := call(t, "POST", srv.URL+"/webhook/call", token,
		assist.WebhookRegistration{EventType: "*", AuthToken: "hook-secret", TargetURL: target}, &resp)
	if code != 200 || resp.Error || resp.WebhookID == "" {
		t.Fatalf("register: %d %+v", code, resp)
	}
}

func link(t *testing.T, srv *httptest.Server, incident string) string {
	t.Helper()
	var resp assist.LinkIncidentResponse
	if code := call(t, "POST", srv.URL+"/cad/incident", token, assist.LinkIncidentRequest{IncidentID: incident, UserID: "ct001"}, &resp); code != 200 {
		t.Fatalf("link: %d", code)
	}
	if resp.IncidentID != incident || len(resp.CallID) != 36 {
		t.Fatalf("link answer %+v", resp)
	}
	return resp.CallID
}

// checkScript asserts the events of one call arrived complete and in order.
func checkScript(t *testing.T, events []map[string]any, callID string, notes int) {
	t.Helper()
	var kinds []string
	for _, e := range events {
		if e["callId"] != callID {
			continue
		}
		switch {
		case e["status"] != nil:
			kinds = append(kinds, e["status"].(string))
		case e["assistantId"] != nil:
			kinds = append(kinds, "ACTIVATION")
		case e["note"] != nil:
			n := e["note"].(map[string]any)
			if _, ok := n["noteId"]; ok {
				t.Errorf("a pushed note carries a noteId: %v", n)
			}
			kinds = append(kinds, n["type"].(string))
		}
	}
	want := []string{"STARTED", "ACTIVATION"}
	for range notes {
		want = append(want, "INFO")
	}
	want = append(want, "CALL_COMPLETED", "ENDED")
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("call %s events %v, want %v", callID, kinds, want)
	}
}

func TestAssistLinkPushesInOrder(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 1, NotesPerCall: 3})
	rc := &receiver{}
	target := httptest.NewServer(rc)
	defer target.Close()
	register(t, srv, target.URL+"/webhookhandler/cad")

	id1 := link(t, srv, "260045123")
	id2 := link(t, srv, "260045124")
	if again := link(t, srv, "260045123"); again != id1 {
		t.Fatalf("re-link gave call %s, want %s", again, id1)
	}
	waitIdle(t, a)

	events, auth := rc.got()
	checkScript(t, events, id1, 3)
	checkScript(t, events, id2, 3)
	for _, h := range auth {
		if h != "hook-secret" {
			t.Fatalf("Authorization %q, want the raw auth token", h)
		}
	}
	if a.LinkCount() != 2 || a.LinkRequests() != 3 || len(a.Links()) != 2 || a.Links()["260045124"] != id2 || a.Registrations() != 1 {
		t.Fatalf("links %v count %d/%d regs %d", a.Links(), a.LinkCount(), a.LinkRequests(), a.Registrations())
	}
	// Acked = every generated note (without its pull-only noteId), in order per call.
	acked := a.Acked()
	if len(acked) != 8 {
		t.Fatalf("%d acked notes, want 8", len(acked))
	}
	for _, inc := range []string{"260045123", "260045124"} {
		gen := a.NotesFor(inc)
		var got []assist.IncidentNote
		for _, n := range acked {
			if n.IncidentID == inc {
				got = append(got, n.Note)
			}
		}
		if len(gen) != 4 || len(got) != 4 {
			t.Fatalf("%s: %d generated, %d acked", inc, len(gen), len(got))
		}
		for i := range gen {
			if gen[i].NoteID == "" || got[i].NoteID != "" {
				t.Fatalf("noteIds: generated %q, acked %q", gen[i].NoteID, got[i].NoteID)
			}
			g := gen[i]
			g.NoteID = ""
			if g != got[i] {
				t.Fatalf("%s note %d: acked %+v, generated %+v", inc, i, got[i], g)
			}
			if i > 0 && gen[i].CreatedAt <= gen[i-1].CreatedAt {
				t.Fatalf("createdAt not increasing: %s then %s", gen[i-1].CreatedAt, gen[i].CreatedAt)
			}
		}
		if !strings.HasSuffix(gen[1].Note, "(note 2 of 3)") || gen[3].Type != assist.NoteCallCompleted {
			t.Fatalf("notes %+v", gen)
		}
	}
	if s := a.PushStats(); s.Attempted != 14 || s.Delivered != 14 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAssistDeterministic(t *testing.T) {
	run := func() (string, []assist.IncidentNote) {
		a, srv := newAssist(t, AssistOptions{Seed: 7, NotesPerCall: 2})
		id := link(t, srv, "1")
		waitIdle(t, a)
		return id, a.NotesFor("1")
	}
	id1, n1 := run()
	id2, n2 := run()
	if id1 != id2 || len(n1) != len(n2) {
		t.Fatalf("%s/%s %d/%d", id1, id2, len(n1), len(n2))
	}
	for i := range n1 {
		if n1[i].Note != n2[i].Note || n1[i].Critical != n2[i].Critical {
			t.Fatalf("note %d differs: %+v %+v", i, n1[i], n2[i])
		}
	}
}

func TestAssistPushRetriesKeepOrder(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 2, NotesPerCall: 4, PushRetryEvery: 2 * time.Millisecond})
	rc := &receiver{fail: func(n int) bool { return n%3 != 0 }} // two failures before each success
	target := httptest.NewServer(rc)
	defer target.Close()
	register(t, srv, target.URL)
	id := link(t, srv, "9")
	waitIdle(t, a)
	events, _ := rc.got()
	checkScript(t, events, id, 4)
	s := a.PushStats()
	if s.Delivered != 8 || s.Failed != 16 || s.Attempted != 24 || s.Abandoned != 0 {
		t.Fatalf("stats %+v", s)
	}
	if len(a.Acked()) != 5 {
		t.Fatalf("%d acked", len(a.Acked()))
	}
}

func TestAssistPushGivesUpAndCloseStops(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 3, NotesPerCall: 1, PushRetryEvery: time.Millisecond, PushRetryFor: 20 * time.Millisecond})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer target.Close()
	register(t, srv, target.URL)
	link(t, srv, "9")
	waitIdle(t, a)
	if s := a.PushStats(); s.Abandoned != 5 || s.Delivered != 0 || len(a.Acked()) != 0 {
		t.Fatalf("stats %+v", s)
	}

	// Close returns promptly while a push is being retried.
	a2, srv2 := newAssist(t, AssistOptions{Seed: 3})
	register(t, srv2, target.URL)
	link(t, srv2, "10")
	time.Sleep(30 * time.Millisecond)
	done := make(chan struct{})
	go func() { a2.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hangs")
	}
	if code := call(t, "POST", srv2.URL+"/cad/incident", token, assist.LinkIncidentRequest{IncidentID: "11"}, nil); code != 503 {
		t.Fatalf("link after Close: %d", code)
	}
}

func TestAssistStartCtxStops(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 4, NoteEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	link(t, srv, "1")
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for a.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if a.Pending() != 0 {
		t.Fatal("calls still running after ctx ended")
	}
}

func TestAssistPullCursor(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 5, NotesPerCall: 3})
	id := link(t, srv, "77") // no webhook: notes are kept for pull only
	waitIdle(t, a)
	if s := a.PushStats(); s.Attempted != 0 {
		t.Fatalf("pushed without a webhook: %+v", s)
	}
	var p assist.NotesPage
	if code := call(t, "GET", srv.URL+"/cad/incident/"+id+"/notes", token, nil, &p); code != 200 || len(p.Notes) != 4 || p.Cursor != "3" {
		t.Fatalf("first pull: %d %+v", code, p)
	}
	if p.Notes[0].NoteID == "" || p.Notes[0] != a.NotesFor("77")[0] {
		t.Fatalf("pulled %+v", p.Notes[0])
	}
	var p2 assist.NotesPage
	call(t, "GET", srv.URL+"/cad/incident/"+id+"/notes?cursor=1", token, nil, &p2)
	if len(p2.Notes) != 2 || p2.Notes[0] != p.Notes[2] || p2.Cursor != "3" {
		t.Fatalf("pull after 1: %+v", p2)
	}
	var p3 assist.NotesPage
	call(t, "GET", srv.URL+"/cad/incident/"+id+"/notes?cursor=3", token, nil, &p3)
	if len(p3.Notes) != 0 || p3.Notes == nil || p3.Cursor != "3" {
		t.Fatalf("pull at end: %+v", p3)
	}
	if code := call(t, "GET", srv.URL+"/cad/incident/nope/notes", token, nil, nil); code != 404 {
		t.Fatalf("unknown call: %d", code)
	}
	if code := call(t, "GET", srv.URL+"/cad/incident/"+id+"/notes?cursor=x", token, nil, nil); code != 400 {
		t.Fatalf("bad cursor: %d", code)
	}
}

func TestAssistPullSeesNotesAsTheyAreCreated(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 6, NotesPerCall: 3, NoteEvery: 30 * time.Millisecond})
	id := link(t, srv, "1")
	var all []assist.IncidentNote
	cursor := ""
	for a.Pending() > 0 || len(all) < 4 {
		var p assist.NotesPage
		call(t, "GET", srv.URL+"/cad/incident/"+id+"/notes?cursor="+cursor, token, nil, &p)
		all = append(all, p.Notes...)
		cursor = p.Cursor
		time.Sleep(10 * time.Millisecond)
	}
	if len(all) != 4 {
		t.Fatalf("pulled %d notes (duplicates or gaps)", len(all))
	}
}

func TestAssistAuthAndValidation(t *testing.T) {
	_, srv := newAssist(t, AssistOptions{})
	for _, path := range []string{"/cad/incident", "/webhook/call"} {
		if code := call(t, "POST", srv.URL+path, "", map[string]string{}, nil); code != 401 {
			t.Fatalf("%s without token: %d", path, code)
		}
		if code := call(t, "POST", srv.URL+path, "wrong", map[string]string{}, nil); code != 401 {
			t.Fatalf("%s with a wrong token: %d", path, code)
		}
	}
	if code := call(t, "GET", srv.URL+"/cad/incident/x/notes", "", nil, nil); code != 401 {
		t.Fatalf("pull without token: %d", code)
	}
	if code := call(t, "POST", srv.URL+"/cad/incident", token, assist.LinkIncidentRequest{UserID: "u"}, nil); code != 400 {
		t.Fatalf("link without incidentId: %d", code)
	}
	if code := call(t, "POST", srv.URL+"/webhook/call", token, assist.WebhookRegistration{TargetURL: "not a url"}, nil); code != 400 {
		t.Fatalf("register with a bad target: %d", code)
	}
}

func TestAssistSnakeCaseRegistration(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{SnakeCaseRegistration: true})
	var out map[string]any
	in := map[string]string{"event_type": "IncidentNote|CallStatus", "auth_token": "x", "target_url": "http://127.0.0.1:1/hook"}
	if code := call(t, "POST", srv.URL+"/webhook/call", token, in, &out); code != 200 {
		t.Fatalf("register: %d", code)
	}
	if out["webhook_id"] != "wh-1" || out["error"] != false || out["error_message"] != "" {
		t.Fatalf("answer %v", out)
	}
	// Re-registering the same target updates it.
	call(t, "POST", srv.URL+"/webhook/call", token, in, &out)
	if a.Registrations() != 2 || len(a.Webhooks()) != 1 {
		t.Fatalf("registrations %d, webhooks %v", a.Registrations(), a.Webhooks())
	}
	if k := parseEventTypes("IncidentNote|CallStatus"); k != eventNote|eventStatus {
		t.Fatalf("kinds %b", k)
	}
	if parseEventTypes("*") != allEvents || parseEventTypes("") != allEvents || parseEventTypes("ASSISTANT_ACTIVATION") != eventActivation {
		t.Fatal("parseEventTypes")
	}
}
