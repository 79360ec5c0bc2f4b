package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// readFile reads the config file and `*_file` secrets; a variable so that a test can make it refuse
// (a permission error cannot be produced for root, who runs CI).
var readFile = os.ReadFile

// secretReadMsg describes a `*_file` secret that could not be read: the path as written,
// the path tried when it was relative, the error, and — when permission was refused — the
// uid and gid the process runs as, which is what a container's non-root user needs to be
// told (a secret file of mode 0600 owned by the host user is unreadable to it).
func secretReadMsg(written, file string, err error) string {
	msg := fmt.Sprintf("cannot read secret file %q", written)
	if file != written {
		msg += " (" + file + ")"
	}
	msg += ": " + unwrapPathErr(err).Error()
	if errors.Is(err, fs.ErrPermission) {
		if id := processIdentity(); id != "" {
			msg += "; the sidecar runs as " + id + ": make the file readable by it (owned by that uid, or mode 0644 in a folder only its owner can enter)"
		}
	}
	return msg
}

// processIdentity is "uid 65532, gid 65532", or "" where there are no uids (Windows).
func processIdentity() string {
	uid := os.Getuid()
	if uid < 0 {
		return ""
	}
	return fmt.Sprintf("uid %d, gid %d", uid, os.Getgid())
}
