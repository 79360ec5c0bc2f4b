//go:build !unix

package dbtest

import (
	"errors"
	"os/exec"
)

func serviceUser(string) string { return "" }

func runAs(*exec.Cmd, string) error { return errors.New("dbtest: servers run on Unix only") }

func chownTo(string, string) error { return nil }
