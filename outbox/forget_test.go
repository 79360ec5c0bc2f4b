package outbox

import (
	"strings"
	"testing"
)

func TestForgetIncident(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	if err := s.PutLink(Link{IncidentID: "I1", CallID: "C1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(Link{IncidentID: "I2", CallID: "C2"}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][3]string{{"hash", "I1", "h1"}, {"hash", "I2", "h2"}, {"cursor", "notes/C1", "7"}} {
		if err := s.Put(kv[0], kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ForgetIncident("I1", [2]string{"hash", "I1"}, [2]string{"cursor", "notes/C1"}, [2]string{"nobucket", "x"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetLink("I1"); ok {
		t.Fatal("link kept")
	}
	if _, ok, _ := s.LinkByCall("C1"); ok {
		t.Fatal("call index kept")
	}
	if _, ok, _ := s.Get("hash", "I1"); ok {
		t.Fatal("hash kept")
	}
	if _, ok, _ := s.Get("cursor", "notes/C1"); ok {
		t.Fatal("cursor kept")
	}
	// The other incident is untouched; forgetting an unknown one is a no-op.
	if l, ok, _ := s.LinkByCall("C2"); !ok || l.IncidentID != "I2" {
		t.Fatal("other link lost")
	}
	if v, _, _ := s.Get("hash", "I2"); v != "h2" {
		t.Fatal("other hash lost")
	}
	if err := s.ForgetIncident("nope"); err != nil {
		t.Fatal(err)
	}
}

func TestEnqueueEmptyKeyRefused(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	before := stats(t, s)
	for _, latest := range []bool{false, true} {
		var err error
		if latest {
			_, err = s.EnqueueLatest(t.Context(), TopicLink, "", []byte("x"))
		} else {
			_, err = s.Enqueue(t.Context(), TopicNote, "", []byte("x"), "k")
		}
		if err == nil || !strings.Contains(err.Error(), "empty key") {
			t.Fatalf("latest=%v: %v", latest, err)
		}
	}
	if after := stats(t, s); after.PendingBytes != before.PendingBytes {
		t.Fatalf("stats changed: %+v → %+v", before, after)
	}
	if seen, _ := s.Seen("k"); seen {
		t.Fatal("the refused message's idempotency key was recorded")
	}
}
