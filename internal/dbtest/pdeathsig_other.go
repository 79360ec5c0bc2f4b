//go:build unix && !linux

package dbtest

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}
