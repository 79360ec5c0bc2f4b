//go:build !windows

package main

import (
	"context"
	"errors"
	"io"
)

// serviceSupported is false: the service manager is Windows'; systemd runs the binary
// as it is (deploy/cad-sidecar.service).
const serviceSupported = false

var errWindowsOnly = errors.New("Windows only")

func installService(serviceSpec) error               { return errWindowsOnly }
func uninstallService(context.Context, string) error { return errWindowsOnly }
func startService(context.Context, string) error     { return errWindowsOnly }
func stopService(context.Context, string) error      { return errWindowsOnly }

// runMaybeService runs body directly: there is no service manager to report to, and no
// reload requests from one (SIGHUP reloads).
func runMaybeService(ctx context.Context, stderr io.Writer, body func(context.Context, io.Writer, <-chan struct{}) int) int {
	return body(ctx, stderr, nil)
}
