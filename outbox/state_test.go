package outbox

import (
	"testing"
	"time"
)

func TestLinks(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{Now: clk.Now})
	t0 := clk.Now()

	mustPut := func(l Link) {
		t.Helper()
		if err := s.PutLink(l); err != nil {
			t.Fatalf("PutLink(%+v): %v", l, err)
		}
	}
	get := func(id string) Link {
		t.Helper()
		l, ok, err := s.GetLink(id)
		if err != nil || !ok {
			t.Fatalf("GetLink(%s) = %v, %v", id, ok, err)
		}
		return l
	}
	byCall := func(call string) (Link, bool) {
		t.Helper()
		l, ok, err := s.LinkByCall(call)
		if err != nil {
			t.Fatal(err)
		}
		return l, ok
	}

	// Status before the link: remembered, applied by PutLink.
	if _, ok, err := s.SetCallStatus("call-2", StatusStarted, t0.Add(time.Second)); ok || err != nil {
		t.Fatalf("SetCallStatus before link = %v, %v", ok, err)
	}
	mustPut(Link{IncidentID: "inc-2", CallID: "call-2", UserID: "u"})
	if l := get("inc-2"); l.Status != StatusStarted || !l.LinkedAt.Equal(t0) || !l.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("pending status not applied: %+v", l)
	}

	// Status after the link.
	mustPut(Link{IncidentID: "inc-1", CallID: "call-1"})
	l, ok, err := s.SetCallStatus("call-1", StatusStarted, time.Time{})
	if !ok || err != nil || l.Status != StatusStarted {
		t.Fatalf("SetCallStatus = %+v, %v, %v", l, ok, err)
	}
	// Re-put with no status and the same call keeps the status.
	mustPut(Link{IncidentID: "inc-1", CallID: "call-1", UserID: "u2"})
	if l := get("inc-1"); l.Status != StatusStarted || l.UserID != "u2" {
		t.Fatalf("status lost on re-put: %+v", l)
	}
	tEnd := t0.Add(time.Minute)
	if l, _, _ := s.SetCallStatus("call-1", StatusEnded, tEnd); l.Status != StatusEnded || !l.EndedAt.Equal(tEnd) {
		t.Fatalf("ENDED not applied: %+v", l)
	}
	if l, _, _ := s.SetCallStatus("call-1", StatusStarted, tEnd.Add(time.Second)); l.Status != StatusEnded {
		t.Fatalf("ENDED went back to STARTED: %+v", l)
	}
	mustPut(Link{IncidentID: "inc-1", CallID: "call-1"})
	if l := get("inc-1"); l.Status != StatusEnded || !l.EndedAt.Equal(tEnd) {
		t.Fatalf("EndedAt lost on re-put: %+v", l)
	}

	// CallID change: index follows, old status is not carried over.
	mustPut(Link{IncidentID: "inc-1", CallID: "call-1b"})
	if _, ok := byCall("call-1"); ok {
		t.Fatal("old call id still indexed")
	}
	if l, ok := byCall("call-1b"); !ok || l.IncidentID != "inc-1" || l.Status != "" {
		t.Fatalf("LinkByCall(call-1b) = %+v, %v", l, ok)
	}

	links, err := s.Links()
	if err != nil || len(links) != 2 || links[0].IncidentID != "inc-1" || links[1].IncidentID != "inc-2" {
		t.Fatalf("Links = %+v, %v", links, err)
	}
	if _, ok, _ := s.GetLink("nope"); ok {
		t.Fatal("unknown incident found")
	}
	if err := s.PutLink(Link{}); err == nil {
		t.Fatal("empty incident id accepted")
	}
}

func TestKV(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	tests := []struct{ bucket, key, value string }{
		{"cursor", "rest", "2025-01-01T00:00:00Z"},
		{"hash", "inc-1", "abc"},
		{"meta", "webhook_id", "wh-1"},
	}
	for _, tt := range tests {
		if _, ok, err := s.Get(tt.bucket, tt.key); ok || err != nil {
			t.Fatalf("Get before Put = %v, %v", ok, err)
		}
		if err := s.Put(tt.bucket, tt.key, tt.value); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.Get(tt.bucket, tt.key); !ok || err != nil || v != tt.value {
			t.Fatalf("Get = %q, %v, %v", v, ok, err)
		}
	}
	if err := s.Delete("hash", "inc-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("nobucket", "x"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get("hash", "inc-1"); ok {
		t.Fatal("deleted value still there")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("meta", "webhook_id"); err == nil {
		t.Fatal("Get after Close succeeded")
	}
	s = openT(t, path, Options{})
	if v, ok, _ := s.Get("meta", "webhook_id"); !ok || v != "wh-1" {
		t.Fatalf("after reopen Get = %q, %v", v, ok)
	}
}
