package sim

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/assist"
	dlv "github.com/cad-sidecar/cad-sidecar/delivery"
)

// The assist client reads the simulated Assist's calls: a summary and a transcript for
// every call, callStatus ENDED once the script ended it.
func TestGetCallFromSimulatedAssist(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{Seed: 3})
	c, err := assist.NewClient(assist.ClientOptions{BaseURL: srv.URL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, inc := range []string{"I-1", "I-2", "I-3", "I-4", "I-5"} {
		ids[inc] = link(t, srv, inc)
	}
	waitIdle(t, a)
	translated := 0
	for inc, callID := range ids {
		got, err := c.GetCall(context.Background(), callID)
		if err != nil {
			t.Fatalf("%s: %v", inc, err)
		}
		if got.ID != callID || got.CallStatus != assist.CallEnded {
			t.Errorf("%s: id %q status %q, want %q ENDED", inc, got.ID, got.CallStatus, callID)
		}
		if got.Summary == nil || got.Summary.Title == "" || got.Summary.Severity == "" || got.Summary.Location == "" {
			t.Errorf("%s: summary %+v", inc, got.Summary)
		}
		fin := got.FinalSegments()
		if len(fin) < 2 || len(fin) == len(got.Segments) {
			t.Errorf("%s: %d final of %d segments: want partial ones left out", inc, len(fin), len(got.Segments))
		}
		for i, s := range fin {
			if s.ParticipantRole == "" || s.Text == "" || s.CallID != callID || i > 0 && s.StartTime <= fin[i-1].StartTime {
				t.Errorf("%s: segment %d: %+v", inc, i, s)
			}
			if s.TranslatedText != "" {
				translated++
			}
		}
	}
	if translated == 0 {
		t.Error("no segment with a translation in 5 calls")
	}
	if a.CallGets(ids["I-1"]) != 1 {
		t.Errorf("CallGets = %d, want 1", a.CallGets(ids["I-1"]))
	}
	if _, err := c.GetCall(context.Background(), "no-such-call"); !dlv.IsPermanent(err) {
		t.Errorf("unknown call: %v, want a permanent error", err)
	}
}

// DropCompletedFor and DropCompletedEvery take the CALL_COMPLETED note out of a call (push
// and pull alike); FailCall makes GET /call fail for one call only.
func TestSimulatedAssistDropsCompletedAndFailsCalls(t *testing.T) {
	a, srv := newAssist(t, AssistOptions{DropCompletedEvery: 3})
	a.DropCompletedFor("I-1")
	a.FailCall("I-2", http.StatusServiceUnavailable)
	ids := map[string]string{}
	for _, inc := range []string{"I-1", "I-2", "I-3", "I-4"} {
		ids[inc] = link(t, srv, inc)
	}
	waitIdle(t, a)
	for inc, want := range map[string]bool{"I-1": true, "I-2": false, "I-3": true, "I-4": false} {
		completed := 0
		for _, n := range a.NotesFor(inc) {
			if n.Type == assist.NoteCallCompleted {
				completed++
			}
		}
		if a.CompletedDropped(inc) != want || (completed == 0) != want {
			t.Errorf("%s: dropped %v with %d CALL_COMPLETED notes, want dropped %v", inc, a.CompletedDropped(inc), completed, want)
		}
	}
	c, _ := assist.NewClient(assist.ClientOptions{BaseURL: srv.URL, Token: token})
	_, err := c.GetCall(context.Background(), ids["I-2"])
	var he *assist.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 503 || dlv.IsPermanent(err) {
		t.Errorf("failing call: %v", err)
	}
	if _, err := c.GetCall(context.Background(), ids["I-3"]); err != nil {
		t.Errorf("another call: %v", err)
	}
	a.FailCall("I-2", 0)
	if _, err := c.GetCall(context.Background(), ids["I-2"]); err != nil {
		t.Errorf("after FailCall(0): %v", err)
	}
}
