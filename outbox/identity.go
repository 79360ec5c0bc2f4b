package outbox

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Store identity. At its creation the outbox writes a random store id into its sys bucket
// ("store_id") and into a small marker file beside it (MarkerPath: "<file>.id"). Open then
// knows that a store existed: a missing or empty data file where the marker says one was
// is refused (ErrStoreReplaced) instead of being silently replaced by an empty outbox, and
// so is a file whose id differs from the marker's (a different file was put there). An
// existing file without a marker (an install older than the marker) gets one. Compact and
// Salvage keep the id, so their output can be put in place of the original.

// ErrStoreReplaced is returned by Open when the data file is missing, empty or not the one
// its marker file names: the messages waiting in the original would be lost. The error
// says what to do.
var ErrStoreReplaced = errors.New("outbox: the data file is missing, empty or not the one this data directory had")

var sysStoreID = []byte("store_id")

const markerHeader = "# cad-sidecar outbox store id of the data file beside this one (same name without .id).\n" +
	"# Keep it: it lets the sidecar refuse a missing, empty or swapped data file instead of\n" +
	"# starting with an empty outbox. Delete it only to start over with an empty outbox on purpose.\n"

// MarkerPath is the marker file of the outbox file path.
func MarkerPath(path string) string { return path + ".id" }

func newStoreID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// readMarker returns the id in path's marker; ok false when there is no marker.
func readMarker(path string) (id string, ok bool, err error) {
	f, err := os.Open(MarkerPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read marker %s: %w", MarkerPath(path), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return line, true, nil
	}
	if err := sc.Err(); err != nil {
		return "", false, fmt.Errorf("read marker %s: %w", MarkerPath(path), err)
	}
	return "", false, fmt.Errorf("marker %s holds no store id (delete it if %s is the data file to use)", MarkerPath(path), path)
}

// writeMarker writes path's marker atomically: temp file, fsync, rename, fsync of the
// directory.
func writeMarker(path, id string) error {
	dst := MarkerPath(path)
	dir := filepath.Dir(dst)
	// Temp files of an earlier attempt cut short (a crash before the rename).
	if old, _ := filepath.Glob(filepath.Join(dir, filepath.Base(dst)+".tmp-*")); len(old) > 0 {
		for _, o := range old {
			_ = os.Remove(o)
		}
	}
	f, err := os.CreateTemp(dir, filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write marker %s: %w", dst, err)
	}
	tmp := f.Name()
	_, err = f.WriteString(markerHeader + id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write marker %s: %w", dst, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not supported everywhere (Windows): the rename is still done
		_ = d.Close()
	}
	return nil
}

// refuseMissing is the error for a missing or empty data file whose marker exists.
func refuseMissing(path, what string) error {
	return fmt.Errorf("%w: %s %s, but %s says an outbox existed there: the notes waiting in it would be lost. "+
		"Restore the file (from a backup, or move it back), or recover what can be read with "+
		"`cad-sidecar outbox salvage --to NEWFILE`; to start over with an empty outbox on purpose, delete %s",
		ErrStoreReplaced, path, what, MarkerPath(path), MarkerPath(path))
}

func refuseOther(path, fileID, markerID string) error {
	got := "has no store id"
	if fileID != "" {
		got = "has store id " + fileID
	}
	return fmt.Errorf("%w: %s %s but %s says %s: a different data file was put in place. "+
		"Put the right file back; if this one is the file to use (its waiting notes will be delivered), delete %s",
		ErrStoreReplaced, path, got, MarkerPath(path), markerID, MarkerPath(path))
}

// identity is what Open knows of the store's identity before opening the file.
type identity struct {
	markerID  string // "" = no marker
	assignID  string // for a new file: the id to give it ("" = a new random id)
	noMarker  bool   // do not write a marker (Salvage's output)
	wroteID   string // set by checkID: the file's id after init
	hadMarker bool
	// created: no marker and no data file (or an empty one): Open creates a new store.
	created bool
}

// preOpen refuses a missing or empty file that the marker says existed, and notes whether
// Open creates a new store (neither file nor marker).
func (id *identity) preOpen(path string) error {
	mid, ok, err := readMarker(path)
	if err != nil {
		return err
	}
	id.markerID, id.hadMarker = mid, ok
	fi, err := os.Stat(path)
	if !ok {
		id.created = errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0)
		return nil
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return refuseMissing(path, "is missing")
	case err != nil:
		return fmt.Errorf("stat %s: %w", path, err)
	case fi.Size() == 0:
		return refuseMissing(path, "is empty (0 bytes)")
	}
	return nil
}

// checkID runs in init's transaction, before anything is written: it refuses a file whose
// id is not the marker's and gives a new file its id.
func (id *identity) checkID(tx *bolt.Tx, path string) error {
	var fileID string
	if sys := tx.Bucket(bktSys); sys != nil {
		fileID = string(sys.Get(sysStoreID))
	}
	if id.hadMarker && fileID != id.markerID {
		if fileID == "" && tx.Bucket(bktSys) == nil {
			return refuseMissing(path, "is a new, blank file")
		}
		return refuseOther(path, fileID, id.markerID)
	}
	if fileID == "" {
		fileID = id.assignID
		if fileID == "" {
			fileID = newStoreID()
		}
		sys, err := tx.CreateBucketIfNotExists(bktSys)
		if err != nil {
			return err
		}
		if err := sys.Put(sysStoreID, []byte(fileID)); err != nil {
			return err
		}
	}
	id.wroteID = fileID
	return nil
}

// newStoreWarning is logged (WARN) when Open creates a new store in an existing folder
// where there was neither a data file nor a marker: right at the first start, but also what
// an unmounted data volume looks like (an empty data_dir: the mount point, or a volume
// created empty), whose waiting notes are then elsewhere.
const newStoreWarning = "created a new, empty store at %s (first start, or the data volume is not mounted?)"

// newStoreNote is logged (INFO) instead when the folder did not exist either and Open
// created it: a first start (the demo's fresh folder, a data_dir not made beforehand); a
// volume that is not mounted leaves its mount point behind, an existing folder.
const newStoreNote = "created a new, empty store at %s (first start: its folder did not exist)"

// postOpen writes the marker when there was none.
func (id *identity) postOpen(path string) error {
	if id.hadMarker || id.noMarker {
		return nil
	}
	return writeMarker(path, id.wroteID)
}

// StoreID returns the store id of the open file.
func (s *Store) StoreID() string { return s.id }
