package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// pageSizeOf reads the page size from the file's first meta page (header 16 bytes, then
// magic, version, page size: 4 bytes each).
func pageSizeOf(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 28 {
		t.Fatalf("read %s: %v", path, err)
	}
	return int64(binary.LittleEndian.Uint32(b[24:28]))
}

// smashPageOf overwrites with random bytes the page holding the payload of note i and
// returns the note numbers whose markers were on that page (lost with it).
func smashPageOf(t *testing.T, path string, i int) []string {
	t.Helper()
	page := smashPageWith(t, path, []byte("note-"+pad4(i)+"|"))
	var lost []string
	for _, part := range strings.Split(string(page), "note-")[1:] {
		if len(part) >= 5 && part[4] == '|' {
			lost = append(lost, part[:4])
		}
	}
	return lost
}

// smashPageWith overwrites with random bytes the page holding marker and returns what the
// page held.
func smashPageWith(t *testing.T, path string, marker []byte) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Index(data, marker)
	if off < 0 {
		t.Fatalf("%q not found in the file", marker)
	}
	ps := pageSizeOf(t, path)
	start := int64(off) / ps * ps
	page := data[start : start+ps]
	garbage := make([]byte, ps)
	rng := rand.New(rand.NewPCG(1, 2))
	for j := range garbage {
		garbage[j] = byte(rng.UintN(256))
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(garbage, start); err != nil {
		t.Fatal(err)
	}
	return page
}

func truncateHalf(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesDamagedFile: a file truncated to half, or with a page of garbage, is
// refused at Open with an error wrapping ErrCorrupt that names the file and the commands:
// no panic. With the full check off (a large file), the page walk alone catches it.
func TestOpenRefusesDamagedFile(t *testing.T) {
	cases := []struct {
		name      string
		fullCheck bool
		damage    func(t *testing.T, path string)
	}{
		{"truncated to half", true, truncateHalf},
		{"garbage page", true, func(t *testing.T, path string) { smashPageOf(t, path, 150) }},
		{"garbage page, page walk only", false, func(t *testing.T, path string) { smashPageOf(t, path, 150) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.fullCheck {
				old := fullCheckMaxSize
				fullCheckMaxSize = 0
				t.Cleanup(func() { fullCheckMaxSize = old })
			}
			path := dbPath(t)
			fillStore(t, path, 300)
			c.damage(t, path)
			before, _ := os.ReadFile(path)
			_, err := Open(path, Options{Logger: testLogger(t)})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			for _, w := range []string{path, "outbox check", "outbox salvage"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Fatal("a refused Open changed the file")
			}
		})
	}
}

// TestDamageWhileOpenIsErrCorrupt: a page damaged under a running store (after the checks
// at Open) makes reads and writes fail with ErrCorrupt, not panic, and Health says so.
func TestDamageWhileOpenIsErrCorrupt(t *testing.T) {
	path := dbPath(t)
	fillStore(t, path, 300)
	s := openT(t, path, Options{})
	smashPageOf(t, path, 150) // the file is mapped: the store sees the garbage
	_, err := s.Pending(TopicNote, 0)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Pending over a damaged page: %v", err)
	}
	if err := s.Health(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Health: %v", err)
	}
}

// TestCheck: a sound file is reported sound with its counts; a damaged one lists problems.
func TestCheck(t *testing.T) {
	path := dbPath(t)
	fillStore(t, path, 300)
	s := openT(t, path, Options{})
	if _, err := Check(path); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Check of an open store: %v, want locked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Sound() || r.Topics[TopicNote].Pending != 300 || r.Topics[TopicNote].Keys != 5 || r.StoreID == "" {
		t.Fatalf("sound file: %+v", r)
	}
	for name, damage := range map[string]func(*testing.T, string){
		"truncated": truncateHalf,
		"garbage":   func(t *testing.T, p string) { smashPageOf(t, p, 150) },
	} {
		t.Run(name, func(t *testing.T) {
			p := dbPath(t)
			fillStore(t, p, 300)
			damage(t, p)
			r, err := Check(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sound() {
				t.Fatalf("damaged file reported sound: %+v", r)
			}
			t.Logf("problems: %v", r.Problems)
		})
	}
}

// TestCheckFindsInconsistencies: one bad record or index entry among sound ones is
// reported by Check (the file is otherwise readable, and bbolt's own check passes).
func TestCheckFindsInconsistencies(t *testing.T) {
	cases := []struct {
		name, want string
		damage     func(tx *bolt.Tx) error
	}{
		{"undecodable message", "message seq 7", func(tx *bolt.Tx) error {
			return tx.Bucket(queueBucket(TopicNote)).Put(u64key(7), []byte{0x09, 0xff})
		}},
		{"counters off", "counters say", func(tx *bolt.Tx) error {
			return putCounters(tx, TopicNote, counters{pending: 1})
		}},
		{"chain cut", "on no chain", func(tx *bolt.Tx) error {
			return tx.Bucket(nextBucket(TopicNote)).Delete(u64key(3))
		}},
		{"bad dedup entry", "dedup key", func(tx *bolt.Tx) error {
			return tx.Bucket(bktDedup).Put([]byte("k"), []byte("x"))
		}},
		{"bad link", "link", func(tx *bolt.Tx) error {
			return tx.Bucket(bktLinks).Put([]byte("INC-1"), []byte("{"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := dbPath(t)
			fillStore(t, path, 20)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(c.damage); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
			r, err := Check(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sound() || !strings.Contains(strings.Join(r.Problems, "\n"), c.want) {
				t.Fatalf("problems %q, want one about %q", r.Problems, c.want)
			}
		})
	}
}
