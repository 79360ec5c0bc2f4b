package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const outboxUsage = `usage:
  cad-sidecar outbox check   [--config FILE]              is the data file sound? (exit 0 sound, 1 damaged)
  cad-sidecar outbox salvage --to NEWFILE [--config FILE] copy everything readable into a new file
  cad-sidecar outbox compact [--config FILE]              shrink the data file
  cad-sidecar outbox list [--topic T] [--content] [--json] [--config FILE]
                                                          the messages waiting (see outbox list --help)
check, salvage and compact work on a stopped sidecar only (they refuse a locked file) and never
change a damaged file; list works on a running one too.`

// cmdOutbox runs the offline outbox operations: check, salvage, compact.
func cmdOutbox(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, outboxUsage)
		return exitProblems
	}
	switch args[0] {
	case "compact":
		return cmdOutboxCompact(args[1:], stdout, stderr)
	case "check":
		return cmdOutboxCheck(args[1:], stdout, stderr)
	case "salvage":
		return cmdOutboxSalvage(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "unknown outbox command %q\n%s\n", args[0], outboxUsage)
	return exitProblems
}

// outboxConfig parses --config (and extra flags set up by more) and loads the config.
func outboxConfig(name string, args []string, stderr io.Writer, more func(*flag.FlagSet)) (*config.Config, int) {
	fs := newFlags("outbox "+name, stderr)
	cfgPath := fs.String("config", "", "config file, for data_dir (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	if more != nil {
		more(fs)
	}
	if code := parse(fs, args); code >= 0 {
		return nil, code
	}
	return loadConfig(*cfgPath, stderr)
}

func cmdOutboxCompact(args []string, stdout, stderr io.Writer) int {
	cfg, code := outboxConfig("compact", args, stderr, nil)
	if cfg == nil {
		return code
	}
	path := sidecar.StorePath(cfg)
	stamp := time.Now().UTC().Format("20060102T150405Z")
	tmp, backup := path+".compact-"+stamp, path+".before-compact-"+stamp
	if err := outbox.Compact(path, tmp); err != nil {
		fmt.Fprintln(stderr, commandError("outbox compact", err))
		return exitFailure
	}
	before, after := fileSize(path), fileSize(tmp)
	// Keep the original until the compacted file is in place; a crash between the two
	// renames leaves both files, named, for the operator.
	if err := os.Rename(path, backup); err != nil {
		fmt.Fprintln(stderr, commandError("outbox compact", err))
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

func cmdOutboxCheck(args []string, stdout, stderr io.Writer) int {
	cfg, code := outboxConfig("check", args, stderr, nil)
	if cfg == nil {
		return code
	}
	path := sidecar.StorePath(cfg)
	r, err := outbox.Check(path)
	if err != nil {
		fmt.Fprintln(stderr, commandError("outbox check", err))
		return exitFailure
	}
	if r.Sound() {
		fmt.Fprintf(stdout, "%s: sound (%d bytes, format %s, store id %s)\n", path, r.Size, r.Format, r.StoreID)
		printCounts(stdout, r)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: DAMAGED (%d bytes): %d problem(s):\n", path, r.Size, len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintln(stdout, "  -", p)
	}
	fmt.Fprintln(stdout, "readable:")
	printCounts(stdout, r)
	fmt.Fprintf(stdout, "To recover the readable notes into a new file (sidecar stopped):\n  cad-sidecar outbox salvage --to %s --config %s\n",
		path+".salvaged", cfg.File)
	return exitFailure
}

func cmdOutboxSalvage(args []string, stdout, stderr io.Writer) int {
	var to *string
	cfg, code := outboxConfig("salvage", args, stderr, func(fs *flag.FlagSet) {
		to = fs.String("to", "", "the new file to write (must not exist)")
	})
	if cfg == nil {
		return code
	}
	if *to == "" {
		fmt.Fprintln(stderr, "outbox salvage: --to NEWFILE is required (a file that does not exist yet)")
		return exitProblems
	}
	path := sidecar.StorePath(cfg)
	r, err := outbox.Salvage(path, *to)
	if err != nil {
		fmt.Fprintln(stderr, commandError("outbox salvage", err))
		return exitFailure
	}
	fmt.Fprintf(stdout, "salvaged %s into %s (%d bytes, sound, store id %s):\n", path, *to, r.Size, r.StoreID)
	printCounts(stdout, r)
	if len(r.Problems) == 0 {
		fmt.Fprintln(stdout, "every record reachable in the file was read.")
	} else {
		fmt.Fprintf(stdout, "not read (%d):\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintln(stdout, "  -", p)
		}
	}
	if r.NothingRead {
		fmt.Fprintf(stdout, "NOTHING could be read from %s: do NOT put %s in place — it is empty, and every waiting note and dead letter would be lost.\n"+
			"Restore %s from a backup instead (see README: A damaged or missing data file).\n", path, *to, path)
		return exitFailure
	}
	fmt.Fprintf(stdout, "To put it in place (sidecar stopped; keep the damaged file until the notes are delivered):\n  mv %s %s.damaged\n  mv %s %s\n",
		path, path, *to, path)
	return exitOK
}

func printCounts(w io.Writer, r *outbox.Report) {
	for _, t := range r.TopicNames() {
		tr := r.Topics[t]
		fmt.Fprintf(w, "  topic %s: %d pending (%d keys, %d payload bytes), %d dead letters\n", t, tr.Pending, tr.Keys, tr.Bytes, tr.Dead)
	}
	fmt.Fprintf(w, "  idempotency keys: %d, links: %d, other state entries: %d\n", r.Dedup, r.Links, r.State)
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// storeErrorHint is the operator's next step for an error of opening the data file (or "").
func storeErrorHint(err error, cfgFile string) string {
	switch {
	case errors.Is(err, outbox.ErrCorrupt):
		return fmt.Sprintf("the data file is damaged: stop here, see what is readable with `cad-sidecar outbox check --config %s`, "+
			"copy it into a new file with `cad-sidecar outbox salvage --to NEWFILE --config %s` and put that in place (see the README, \"A damaged or missing data file\")", cfgFile, cfgFile)
	case errors.Is(err, outbox.ErrStoreReplaced):
		return "the data file is missing, empty or another one: restore it, or see the README, \"A damaged or missing data file\""
	}
	return ""
}
