package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// cmdOutbox runs the offline outbox operations: `outbox compact`.
func cmdOutbox(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "compact" {
		fmt.Fprintln(stderr, "usage: cad-sidecar outbox compact [--config FILE]")
		return exitProblems
	}
	fs := newFlags("outbox compact", stderr)
	cfgPath := fs.String("config", "", "config file, for data_dir (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	if code := parse(fs, args[1:]); code >= 0 {
		return code
	}
	cfg, code := loadConfig(*cfgPath, stderr)
	if cfg == nil {
		return code
	}
	path := sidecar.StorePath(cfg)
	stamp := time.Now().UTC().Format("20060102T150405Z")
	tmp, backup := path+".compact-"+stamp, path+".before-compact-"+stamp
	if err := outbox.Compact(path, tmp); err != nil {
		fmt.Fprintln(stderr, "outbox compact:", err)
		return exitFailure
	}
	before, after := fileSize(path), fileSize(tmp)
	// Keep the original until the compacted file is in place; a crash between the two
	// renames leaves both files, named, for the operator.
	if err := os.Rename(path, backup); err != nil {
		fmt.Fprintln(stderr, "outbox compact:", err)
		_ = os.Remove(tmp)
		return exitFailure
	}
	if err := os.Rename(tmp, path); err != nil {
		fmt.Fprintf(stderr, "outbox compact: %v (the original is at %s)\n", err, backup)
		return exitFailure
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes; the original is kept as %s (delete it once the sidecar runs)\n",
		path, before, after, backup)
	return exitOK
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}
