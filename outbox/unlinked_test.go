package outbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Unlinked state (a call status or an activation kept before the call's link) expires, and
// what it was kept at survives a reopen; one entry expiring leaves a fresh one alone.
func TestUnlinkedStateExpires(t *testing.T) {
	clk := newClock()
	path := dbPath(t)
	s := openT(t, path, Options{Now: clk.Now})
	if _, ok, err := s.SetCallStatus("call-old", StatusStarted, time.Time{}); ok || err != nil {
		t.Fatalf("SetCallStatus = %v, %v", ok, err)
	}
	if err := s.KeepUnlinked("activation", "call-old", []byte(`[{"a":1}]`)); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	if _, _, err := s.SetCallStatus("call-new", StatusStarted, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.KeepUnlinked("activation", "call-new", []byte(`[{"a":2}]`)); err != nil {
		t.Fatal(err)
	}
	before := s.UnlinkedBytes()
	if before == 0 {
		t.Fatal("unlinked state counts 0 bytes")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{Now: clk.Now})
	if got := s.UnlinkedBytes(); got != before {
		t.Fatalf("after reopen unlinked bytes = %d, want %d", got, before)
	}
	expired, err := s.ExpireUnlinked(clk.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(expired) != 2 || expired[0].Kind != UnlinkedCallStatus || expired[0].CallID != "call-old" ||
		expired[1].Kind != "activation" || expired[1].CallID != "call-old" {
		t.Fatalf("expired %+v, want call-old's status and activation", expired)
	}
	if _, _, ok, _ := s.Unlinked("activation", "call-old"); ok {
		t.Fatal("expired activation still kept")
	}
	if v, _, ok, _ := s.Unlinked("activation", "call-new"); !ok || string(v) != `[{"a":2}]` {
		t.Fatalf("fresh activation = %q, %v", v, ok)
	}
	// The expired status is not applied when its call is linked at last; the fresh one is.
	if err := s.PutLink(Link{IncidentID: "inc-old", CallID: "call-old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(Link{IncidentID: "inc-new", CallID: "call-new"}); err != nil {
		t.Fatal(err)
	}
	if l, _, _ := s.GetLink("inc-old"); l.Status != "" {
		t.Fatalf("expired status applied: %+v", l)
	}
	if l, _, _ := s.GetLink("inc-new"); l.Status != StatusStarted {
		t.Fatalf("fresh status not applied: %+v", l)
	}
	if err := s.DropUnlinked("activation", "call-new"); err != nil {
		t.Fatal(err)
	}
	if got := s.UnlinkedBytes(); got != 0 {
		t.Fatalf("unlinked bytes after expiry, link and drop = %d, want 0", got)
	}
}

// The bytes of unlinked state count toward MaxBytes: past it, Enqueue, KeepUnlinked and a
// kept status are refused with ErrFull and write nothing; a duplicate is still answered as
// one; a status for a linked call is never refused; expiry frees the budget.
func TestUnlinkedStateCountsTowardMaxBytes(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{Now: clk.Now, MaxBytes: 200})
	ctx := context.Background()
	enqueue(t, s, TopicNote, "inc-1", "x", "dup-1")
	if err := s.PutLink(Link{IncidentID: "inc-1", CallID: "call-linked"}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 200)
	if err := s.KeepUnlinked("activation", "call-1", big); err != nil {
		t.Fatalf("first keep (under the budget): %v", err)
	}
	if err := s.KeepUnlinked("activation", "call-2", []byte("y")); !errors.Is(err, ErrFull) {
		t.Fatalf("keep past the budget = %v, want ErrFull", err)
	}
	if _, _, ok, _ := s.Unlinked("activation", "call-2"); ok {
		t.Fatal("a refused keep was written")
	}
	if _, _, err := s.SetCallStatus("call-3", StatusStarted, time.Time{}); !errors.Is(err, ErrFull) {
		t.Fatalf("status of an unlinked call past the budget = %v, want ErrFull", err)
	}
	if l, ok, err := s.SetCallStatus("call-linked", StatusStarted, time.Time{}); err != nil || !ok || l.Status != StatusStarted {
		t.Fatalf("status of a linked call past the budget = %+v, %v, %v", l, ok, err)
	}
	if ok, err := s.Enqueue(ctx, TopicNote, "inc-1", []byte("z"), "new-key"); ok || !errors.Is(err, ErrFull) {
		t.Fatalf("Enqueue past the budget = %v, %v, want ErrFull", ok, err)
	}
	if ok, err := s.Enqueue(ctx, TopicNote, "inc-1", []byte("x"), "dup-1"); ok || err != nil {
		t.Fatalf("duplicate past the budget = %v, %v, want (false, nil)", ok, err)
	}
	if st, _ := s.Stats(); st.Pending[TopicNote] != 1 || st.PendingBytes != 1 {
		t.Fatalf("refused writes changed the queue: %+v", st)
	}
	clk.Add(time.Hour)
	if _, err := s.ExpireUnlinked(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Enqueue(ctx, TopicNote, "inc-1", []byte("z"), "new-key"); !ok || err != nil {
		t.Fatalf("Enqueue after expiry = %v, %v", ok, err)
	}
}

// State an older version kept with Put is adopted: counted, and expiring from now.
func TestAdoptUnlinked(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{Now: clk.Now})
	if err := s.Put("pending_activation", "call-1", "[1]"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AdoptUnlinked("activation", "pending_activation"); n != 1 || err != nil {
		t.Fatalf("AdoptUnlinked = %d, %v", n, err)
	}
	if n, err := s.AdoptUnlinked("activation", "pending_activation"); n != 0 || err != nil {
		t.Fatalf("second AdoptUnlinked = %d, %v", n, err)
	}
	if _, ok, _ := s.Get("pending_activation", "call-1"); ok {
		t.Fatal("adopted entry still in the old bucket")
	}
	v, at, ok, err := s.Unlinked("activation", "call-1")
	if err != nil || !ok || string(v) != "[1]" || !at.Equal(clk.Now()) {
		t.Fatalf("adopted = %q %v %v %v", v, at, ok, err)
	}
	if s.UnlinkedBytes() == 0 {
		t.Fatal("adopted entry not counted")
	}
}

// TestLoadUnlinkedOverDamagedPageIsErrCorrupt: counting the unlinked state (done at Open)
// over a damaged page fails with ErrCorrupt naming the file, not a panic.
func TestLoadUnlinkedOverDamagedPageIsErrCorrupt(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	for i := range 300 {
		v := []byte("unlinked-" + pad4(i) + "|" + strings.Repeat("x", 100))
		if err := s.KeepUnlinked("activation", "call-"+pad4(i), v); err != nil {
			t.Fatal(err)
		}
	}
	smashPageWith(t, path, []byte("unlinked-0150|")) // the file is mapped: the store sees the garbage
	err := s.loadUnlinked()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("loadUnlinked over a damaged page: %v, want ErrCorrupt naming %s", err, path)
	}
}
