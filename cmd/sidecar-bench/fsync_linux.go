//go:build linux

package main

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data to the disk as bbolt does on Linux (fdatasync).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
