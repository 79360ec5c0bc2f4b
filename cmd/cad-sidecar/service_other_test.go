//go:build !windows

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServiceWindowsOnly: `service` elsewhere than Windows says so and exits 2, whatever
// the subcommand, and points to the systemd unit.
func TestServiceWindowsOnly(t *testing.T) {
	for _, args := range [][]string{nil, {"install"}, {"install", "--config", "x.yaml"}, {"stop", "--name", "x"}} {
		var stdout, stderr bytes.Buffer
		if code := cmdService(context.Background(), args, &stdout, &stderr); code != exitProblems {
			t.Errorf("%q: exit %d, want %d", args, code, exitProblems)
		}
		if msg := stderr.String(); !strings.Contains(msg, "Windows only") || !strings.Contains(msg, "deploy/cad-sidecar.service") {
			t.Errorf("%q: stderr %q", args, msg)
		}
	}
}
