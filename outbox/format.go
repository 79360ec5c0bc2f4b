package outbox

import (
	"errors"
	"fmt"
	"strconv"
)

// File format versions (sys/format): 1 (the first release), 2 (per-key chains and
// counters on disk), 3 (no idempotency time index). Open migrates 1 and 2 to 3 in one
// transaction at the first start of a newer version (an upgrade is one-way: the migrated
// file is format 3). A file of a newer format than this version knows — written by a
// later cad-sidecar, then started with an older one (a downgrade) — is refused with
// ErrNewerFormat and left unchanged: run the newer version, or restore the backup taken
// before the upgrade.

// ErrNewerFormat is returned by Open for a file written by a newer cad-sidecar.
var ErrNewerFormat = errors.New("outbox: the data file was written by a newer cad-sidecar")

// newerFormat reports whether v is a format number later than formatVersion.
func newerFormat(v string) bool {
	n, err := strconv.Atoi(v)
	cur, _ := strconv.Atoi(formatVersion)
	return err == nil && n > cur
}

func newerFormatError(path, v string) error {
	return fmt.Errorf("%w: unsupported file format %q in %s: this version reads format %s and older. "+
		"The file was not changed: run the cad-sidecar version that wrote it, or restore the backup taken before the upgrade "+
		"(cad-sidecar backup; README: Upgrading)", ErrNewerFormat, v, path, formatVersion)
}
