package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Backups. A bbolt file copied while a sidecar writes it can tear (a page written halfway
// through the copy): a backup is instead written from one read transaction (bbolt's
// Tx.WriteTo), which sees one committed state of the whole file while the writer goes on.
// Store.Backup does it on the open store (the running sidecar, through its admin API);
// BackupFile on the file of a stopped sidecar, opened read-only. WriteBackup puts either
// into a file safely — a temporary file fsynced, checked (Check) and renamed into place —
// and writes the store id marker beside it (MarkerPath), so that the backup and its marker
// can be put in place of data_dir/sidecar.db and sidecar.db.id and Open accepts them.

// ErrLocked is returned by BackupFile when another process (a running sidecar) holds the
// file: back it up through that process instead.
var ErrLocked = errors.New("the data file is locked by another process (a running sidecar?)")

// BackupInfo describes a backup as it starts.
type BackupInfo struct {
	Size    int64  // bytes that will be written
	StoreID string // the store id of the copy
	Format  string // the file format of the copy
}

// Backup writes a consistent copy of the store to w; writes go on meanwhile (they are not
// in the copy). The copy is first staged into a temporary file beside the store, from one
// read transaction, and only then streamed to w: bbolt cannot grow its file while a read
// transaction is open, so a transaction held for as long as a slow (or stalled) reader of
// w takes would hold up every write — every webhook waiting for its note to be committed.
// Staging needs free space in the store's folder as large as the file. start, when not
// nil, is called before the first byte is written to w (e.g. to send headers). It returns
// the bytes written to w.
func (s *Store) Backup(w io.Writer, start func(BackupInfo)) (int64, error) {
	staged, info, err := s.stageBackup()
	if err != nil {
		return 0, fmt.Errorf("outbox: backup: %w", err)
	}
	defer func() {
		_ = staged.Close()
		_ = os.Remove(staged.Name())
	}()
	if start != nil {
		start(info)
	}
	n, err := io.Copy(w, staged)
	if err != nil {
		return n, fmt.Errorf("outbox: backup: %w", err)
	}
	return n, nil
}

// stagePattern names the staged copies of Store.Backup; one left by a crash is removed by
// the next backup.
const stagePattern = ".backup-*.tmp"

// stageBackup writes the store from one read transaction into a temporary file beside it
// and returns that file, positioned at its start.
func (s *Store) stageBackup() (*os.File, BackupInfo, error) {
	dir, base := filepath.Dir(s.path), filepath.Base(s.path)
	if old, err := filepath.Glob(filepath.Join(dir, base+stagePattern)); err == nil {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	f, err := os.CreateTemp(dir, base+stagePattern)
	if err != nil {
		return nil, BackupInfo{}, fmt.Errorf("staging the copy in %s: %w", dir, err)
	}
	var info BackupInfo
	err = s.view(func(tx *bolt.Tx) error {
		_, err := writeTx(tx, f, func(i BackupInfo) { info = i })
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		if isNoSpace(err) {
			return nil, BackupInfo{}, fmt.Errorf("staging the copy in %s needs free space as large as the data file (%w): %w", dir, ErrNoSpace, err)
		}
		return nil, BackupInfo{}, fmt.Errorf("staging the copy in %s: %w", dir, err)
	}
	return f, info, nil
}

// BackupFile writes a consistent copy of the outbox file at path, which no process holds
// (a stopped sidecar's), to w. The file is opened read-only and not changed. A file held by
// a running sidecar is ErrLocked (after a 1 s lock timeout).
func BackupFile(path string, w io.Writer, start func(BackupInfo)) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("outbox: backup: %w", err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return 0, fmt.Errorf("outbox: backup of %s: %w", path, ErrLocked)
		}
		return 0, fmt.Errorf("outbox: backup: %w", err)
	}
	defer db.Close()
	var n int64
	err = safely(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			var err error
			n, err = writeTx(tx, w, start)
			return err
		})
	})
	if err != nil {
		return n, fmt.Errorf("outbox: backup of %s: %w", path, err)
	}
	return n, nil
}

func writeTx(tx *bolt.Tx, w io.Writer, start func(BackupInfo)) (int64, error) {
	sys := tx.Bucket(bktSys)
	if sys == nil {
		return 0, errors.New("not an outbox file (no sys bucket)")
	}
	if start != nil {
		start(BackupInfo{Size: tx.Size(), StoreID: string(sys.Get(sysStoreID)), Format: string(sys.Get(sysFormat))})
	}
	return tx.WriteTo(w)
}

// WriteBackup writes a backup into the file dst: copy writes it (Store.Backup,
// BackupFile, or the admin API's stream) into a temporary file beside dst, which is
// fsynced and checked (Check: a copy that is not a sound outbox file is refused and
// removed), then renamed to dst; then dst's store id marker (dst + ".id") is written. An
// existing dst is refused unless force. It returns the check's report of the copy.
func WriteBackup(dst string, force bool, copy func(io.Writer) (int64, error)) (*Report, error) {
	if fi, err := os.Lstat(dst); err == nil {
		if !force {
			return nil, fmt.Errorf("outbox: backup: %s already exists (not overwritten; --force replaces it)", dst)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("outbox: backup: %s exists and is not a regular file", dst)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("outbox: backup: %w", err)
	}
	dir := filepath.Dir(dst)
	f, err := os.CreateTemp(dir, filepath.Base(dst)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("outbox: backup: cannot create the backup in %s: %w", dir, err)
	}
	tmp := f.Name()
	fail := func(err error) (*Report, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if _, err := copy(f); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("outbox: backup: write %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("outbox: backup: write %s: %w", tmp, err))
	}
	r, err := Check(tmp)
	if err != nil {
		return fail(fmt.Errorf("outbox: backup: checking the copy: %w", err))
	}
	if !r.Sound() {
		return fail(fmt.Errorf("outbox: backup: the copy is not a sound outbox file (%d problems, first: %s); nothing was written to %s",
			len(r.Problems), r.Problems[0], dst))
	}
	if r.StoreID == "" {
		return fail(fmt.Errorf("outbox: backup: the copy has no store id; nothing was written to %s", dst))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fail(fmt.Errorf("outbox: backup: %w", err))
	}
	if err := writeMarker(dst, r.StoreID); err != nil {
		return nil, fmt.Errorf("outbox: backup: %s is written, but its marker is not: %w", dst, err)
	}
	r.File = dst
	return r, nil
}
