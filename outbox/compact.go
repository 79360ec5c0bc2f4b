package outbox

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// compactTxMaxSize bounds one transaction of Compact (bytes of keys and values).
const compactTxMaxSize = 64 << 20

// Compact copies the outbox file src into a new file dst, leaving out the free pages
// (bbolt files never shrink by themselves: a drained backlog leaves its pages free). It is
// an offline operation: it refuses when src is held by a running sidecar (after a 1 s lock
// timeout) and never overwrites an existing dst. src is opened read-only and not changed;
// on failure dst is removed. Swapping dst in for src is left to the operator.
func Compact(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("outbox: compact: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("outbox: compact: %s already exists (not overwritten)", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox: compact: %w", err)
	}
	// A damaged file is refused (ErrCorrupt; compacting it would drop or trip over the
	// damaged pages): `outbox salvage` is the tool for it.
	if err := preflight(src); err != nil {
		return fmt.Errorf("outbox: compact: %w", err)
	}
	sdb, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("outbox: compact: %s is locked: another process (a running sidecar?) holds it; stop it first: %w", src, err)
		}
		return fmt.Errorf("outbox: compact: open %s: %w", src, err)
	}
	defer sdb.Close()
	err = sdb.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSys)
		if b == nil {
			return fmt.Errorf("%s is not an outbox file (no sys bucket)", src)
		}
		if v := string(b.Get(sysFormat)); v != formatVersion && v != formatVersionV2 && v != formatVersionV1 {
			return fmt.Errorf("%s has unsupported format %q", src, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: compact: %w", err)
	}
	// O_EXCL: never overwrite, even if dst appeared since the check above.
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: compact: create %s: %w", dst, err)
	}
	_ = f.Close()
	ddb, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("outbox: compact: open %s: %w", dst, err)
	}
	err = safely(src, func() error { return bolt.Compact(ddb, sdb, compactTxMaxSize) })
	if cerr := ddb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("outbox: compact %s into %s: %w", src, dst, err)
	}
	return nil
}
