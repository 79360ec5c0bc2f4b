package outbox

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// oldNote writes, into a new file at path, one note enqueued 100h ago (younger than a
// configured MaxAge of 168h, older than the default 72h) and one dedup key recorded then
// (older than a short DedupRetention).
func oldNote(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-100 * time.Hour)
	s := openT(t, path, Options{MaxAge: 168 * time.Hour, DedupRetention: 1000 * time.Hour, Now: func() time.Time { return old }})
	enqueue(t, s, TopicNote, "INC-1", "waiting since 100h", "dedup-1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenNoBackground: a store opened with NoBackground (the CLI's inspection commands)
// runs no expiry sweep and no pruning even where its options would apply them (the
// default MaxAge 72h, a DedupRetention of 1h): the 100h-old note is still pending after
// reads and Close, and its idempotency key is still remembered.
func TestOpenNoBackground(t *testing.T) {
	path := dbPath(t)
	oldNote(t, path)
	s := openT(t, path, Options{NoBackground: true, DedupRetention: time.Hour})
	if got := pending(t, s, TopicNote); len(got) != 1 {
		t.Fatalf("%d pending, want 1", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{NoBackground: true, MaxAge: 168 * time.Hour})
	if ds := deadLetters(t, s, TopicNote); len(ds) != 0 {
		t.Fatalf("an inspecting open dead-lettered a note: %s", ds[0].Reason)
	}
	if got := pending(t, s, TopicNote); len(got) != 1 {
		t.Fatalf("%d pending after an inspecting open, want 1", len(got))
	}
	if dedupCount(t, s) != 1 {
		t.Fatal("an inspecting open pruned an idempotency key")
	}
}

// TestSalvageKeepsOldNotesPending: Salvage's own opens of the new file (creating and
// verifying it) run no expiry sweep: a note older than the default MaxAge is salvaged as
// pending, not dead-lettered.
func TestSalvageKeepsOldNotesPending(t *testing.T) {
	src := dbPath(t)
	oldNote(t, src)
	dst := filepath.Join(filepath.Dir(src), "salvaged.db")
	if _, err := Salvage(src, dst); err != nil {
		t.Fatal(err)
	}
	s := openT(t, dst, Options{NoBackground: true})
	if ds := deadLetters(t, s, TopicNote); len(ds) != 0 {
		t.Fatalf("salvage dead-lettered a note: %s", ds[0].Reason)
	}
	if got := pending(t, s, TopicNote); len(got) != 1 {
		t.Fatalf("%d pending in the salvaged file, want 1", len(got))
	}
}

// dedupCount is the number of idempotency keys remembered in s.
func dedupCount(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bktDedup).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
