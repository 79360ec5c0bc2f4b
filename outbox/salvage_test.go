package outbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// salvagedNotes opens a salvaged file and returns the note numbers per key, in delivery
// (seq) order.
func salvagedNotes(t *testing.T, path string) map[string][]int {
	t.Helper()
	s := openT(t, path, Options{})
	out := map[string][]int{}
	for _, m := range pending(t, s, TopicNote) {
		n, err := strconv.Atoi(string(m.Payload[5:9]))
		if err != nil {
			t.Fatalf("payload %q", m.Payload[:12])
		}
		out[m.Key] = append(out[m.Key], n)
	}
	checkFile(t, s, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func assertOrdered(t *testing.T, notes map[string][]int) int {
	t.Helper()
	total := 0
	for k, ns := range notes {
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				t.Fatalf("key %s: order lost: %v", k, ns)
			}
		}
		total += len(ns)
	}
	return total
}

// TestSalvage: from a file with one page of garbage, Salvage copies every note not on that
// page (counts asserted), keeps per-key order, the dead letter, the idempotency keys and
// the state, writes a sound file with the source's store id that opens in place of the
// original, lists what it could not read, and never changes the source.
func TestSalvage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "sidecar.db")
	s := openT(t, src, Options{})
	for i := range 300 {
		enqueue(t, s, TopicNote, "INC-"+strconv.Itoa(i%5), notePayload(i), "dedup-"+strconv.Itoa(i))
	}
	enqueue(t, s, TopicLink, "INC-9", "dead link")
	stop := deliverBg(t, s, TopicLink, func(context.Context, Message) error { return delivery.Permanentf("refused") })
	waitFor(t, "the dead letter", func() bool { return stats(t, s).Dead[TopicLink] == 1 })
	stop()
	if err := s.Put("cursor", "cad", "2025-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(Link{IncidentID: "INC-1", CallID: "call-1"}); err != nil {
		t.Fatal(err)
	}
	id := s.StoreID()

	// While the store is open (a running sidecar), salvage refuses.
	if _, err := Salvage(src, filepath.Join(dir, "new.db")); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("salvage of a locked file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	lost := smashPageOf(t, src, 150)
	if len(lost) == 0 || len(lost) > 20 {
		t.Fatalf("%d notes on the damaged page", len(lost))
	}
	before, _ := os.ReadFile(src)
	dst := filepath.Join(dir, "salvaged.db")
	r, err := Salvage(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(src); !bytes.Equal(after, before) {
		t.Fatal("salvage changed the source")
	}
	if r.Sound() {
		t.Fatal("salvage of a damaged file lists nothing it could not read")
	}
	t.Logf("not read: %v", r.Problems)
	if got, want := r.Topics[TopicNote].Pending, 300-len(lost); got != want {
		t.Fatalf("salvaged %d notes, want %d (300 minus the %d on the damaged page)", got, want, len(lost))
	}
	if r.Topics[TopicLink].Dead != 1 || r.Links != 1 || r.Dedup < 300-20 || r.StoreID != id {
		t.Fatalf("report %+v", r)
	}
	if c, err := Check(dst); err != nil || !c.Sound() {
		t.Fatalf("check of the salvaged file: %v %+v", err, c)
	}
	if _, err := os.Stat(MarkerPath(dst)); err == nil {
		t.Fatal("salvage wrote a marker for its output")
	}
	if got := assertOrdered(t, salvagedNotes(t, dst)); got != 300-len(lost) {
		t.Fatalf("salvaged file holds %d notes", got)
	}
	if _, err := Salvage(src, dst); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("salvage over an existing file: %v", err)
	}

	_ = os.Remove(MarkerPath(dst)) // written by salvagedNotes' Open
	// Put in place of the original: it opens against the original's marker.
	if err := os.Rename(src, src+".damaged"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst, src); err != nil {
		t.Fatal(err)
	}
	s = openT(t, src, Options{})
	if v, ok, _ := s.Get("cursor", "cad"); !ok || v != "2025-01-01T00:00:00Z" {
		t.Fatalf("cursor %q %v", v, ok)
	}
	if seen, _ := s.Seen("dedup-0"); !seen {
		t.Fatal("idempotency key not salvaged")
	}
	// New messages get seqs after the salvaged ones (and after the dead letter's).
	enqueue(t, s, TopicNote, "INC-0", notePayload(9999))
	ms := pending(t, s, TopicNote)
	if last := ms[len(ms)-1]; string(last.Payload[:9]) != "note-9999" || last.Seq <= ms[len(ms)-2].Seq {
		t.Fatalf("new message seq %d after %d", last.Seq, ms[len(ms)-2].Seq)
	}
}

// TestSalvageTruncated: from a file truncated to half, Salvage recovers the notes in the
// part that is left, in order, and says the rest is unreadable.
func TestSalvageTruncated(t *testing.T) {
	src := dbPath(t)
	fillStore(t, src, 300)
	truncateHalf(t, src)
	dst := filepath.Join(t.TempDir(), "salvaged.db")
	r, err := Salvage(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("not read: %v", r.Problems)
	// bbolt writes a commit's pages past the old ones: the second half held the newest
	// tree (its root included), so what can be read depends on where the cut fell. What
	// is asserted: no panic, a list of what was not read, and a sound file holding only
	// notes of the source, in order.
	n := r.Topics[TopicNote].Pending
	if n >= 300 || r.Sound() {
		t.Fatalf("salvaged %d of 300 notes, problems %v", n, r.Problems)
	}
	if c, err := Check(dst); err != nil || !c.Sound() {
		t.Fatalf("check of the salvaged file: %v %+v", err, c)
	}
	if got := assertOrdered(t, salvagedNotes(t, dst)); got != n {
		t.Fatalf("file holds %d notes, report says %d", got, n)
	}
}

// TestSalvageRebuildsIndex: salvage rebuilds the chains and counters from the records (a
// cut chain loses nothing) and leaves out, and lists, a record that does not decode.
func TestSalvageRebuildsIndex(t *testing.T) {
	cases := []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   int
		listed string
	}{
		{"chain cut and counters off", func(tx *bolt.Tx) error {
			if err := tx.Bucket(nextBucket(TopicNote)).Delete(u64key(3)); err != nil {
				return err
			}
			return putCounters(tx, TopicNote, counters{pending: 1})
		}, 20, ""},
		{"undecodable message", func(tx *bolt.Tx) error {
			return tx.Bucket(queueBucket(TopicNote)).Put(u64key(7), []byte{0x09, 0xff})
		}, 19, "queue/note seq 7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := dbPath(t)
			fillStore(t, src, 20)
			db, err := bolt.Open(src, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(c.damage); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
			dst := filepath.Join(t.TempDir(), "new.db")
			r, err := Salvage(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if r.Topics[TopicNote].Pending != c.want {
				t.Fatalf("salvaged %d, want %d; problems %v", r.Topics[TopicNote].Pending, c.want, r.Problems)
			}
			if got := strings.Join(r.Problems, "\n"); (c.listed == "") != (got == "") || !strings.Contains(got, c.listed) {
				t.Fatalf("problems %q, want %q", got, c.listed)
			}
			if got := assertOrdered(t, salvagedNotes(t, dst)); got != c.want {
				t.Fatalf("file holds %d", got)
			}
		})
	}
}
