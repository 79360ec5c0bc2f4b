package outbox

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A file of a newer format (a downgrade: written by a later cad-sidecar) is refused by
// Open with ErrNewerFormat and a message that says what to do, and is left byte for byte
// as it was; outbox check says the same. Older formats are migrated (v2_test.go).
func TestNewerFormatRefusedUnchanged(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	enqueue(t, s, TopicNote, "INC-1", "waiting")
	if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bktSys).Put(sysFormat, []byte("4")) }); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Open of format 4: %v, want ErrNewerFormat", err)
	}
	for _, want := range []string{`unsupported file format "4"`, "reads format 3 and older", "newer cad-sidecar", "not changed", "restore the backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the refused Open changed the file")
	}
	r, err := Check(path)
	if err != nil || r.Sound() || !strings.Contains(strings.Join(r.Problems, "\n"), "written by a newer cad-sidecar") {
		t.Fatalf("Check: %+v %v, want a problem naming the newer version", r, err)
	}
}
