//go:build unix

package dbtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// serviceUser is the OS user a server runs as: name when we are root (PostgreSQL refuses
// to run as root), else the current user.
func serviceUser(name string) string {
	if os.Geteuid() != 0 {
		return ""
	}
	return name
}

func lookupIDs(name string) (uint32, uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("dbtest: user %q: %w (installed by the postgresql / mariadb-server packages)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid), nil
}

// runAs makes cmd run as user ("" = as we are) and die with the test process.
func runAs(cmd *exec.Cmd, name string) error {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(attr)
	if name != "" {
		uid, gid, err := lookupIDs(name)
		if err != nil {
			return err
		}
		attr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	}
	cmd.SysProcAttr = attr
	cmd.Dir = os.TempDir()
	return nil
}

func chownTo(path, name string) error {
	if name == "" {
		return nil
	}
	uid, gid, err := lookupIDs(name)
	if err != nil {
		return err
	}
	return os.Chown(path, int(uid), int(gid))
}
