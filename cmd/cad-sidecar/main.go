// Command cad-sidecar links CAD incidents to live Assist calls and writes Assist's notes
// back into the CAD. Subcommands: run, validate, map, demo, outbox, deadletter, cursor,
// links, trace, backup, healthcheck, service, shadow, version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	// CAD adapters register themselves by name.
	_ "github.com/cad-sidecar/cad-sidecar/adapters/eido"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/push"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitProblems = 2 // bad config or input
	exitFiltered = 3 // map: the record was filtered out
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `cad-sidecar links CAD incidents to live Assist calls and writes Assist's notes into the CAD.

Usage:
  cad-sidecar run         [--config FILE] [--shadow[=cad|all|off]]
                                                   run the sidecar; --shadow: write nothing into
                                                   the CAD (cad, the default: links go to Assist;
                                                   all: nothing is sent to Assist either)
  cad-sidecar shadow report [--json] [--incidents] [FILE...]
                                                   summarise a shadow run's file (default: the
                                                   config's shadow.file and its rotated files)
  cad-sidecar validate    [--config FILE] [--connect]
                                                   check a config file (exit 0 good, 2 problems);
                                                   --connect also dry-runs the CAD's poll and note
                                                   statement (nothing is changed)
  cad-sidecar map         [--config FILE] (--input FILE|- [--format json|xml|csv] [--items PATH] [--explain] | --note FILE|-)
                                                   map CAD records or render a note
                                                   (exit 0 mapped, 3 all filtered, 2 any error)
  cad-sidecar demo        [--duration D] [--keep] [--shadow[=cad|all]] [--admin-token TOKEN]
                                                   run against simulated CAD and Assist (--keep: keep its folder;
                                                   --admin-token: the admin API and dashboard want it)
  cad-sidecar outbox check [--config FILE]         is the data file sound? (exit 0 sound, 1 damaged)
  cad-sidecar outbox salvage --to NEWFILE [--config FILE]
                                                   copy every readable note and state entry into a new file
  cad-sidecar outbox compact [--config FILE]       shrink the outbox file (sidecar stopped)
  cad-sidecar backup --to FILE [--force] [--config FILE]
                                                   consistent copy of the data file (and FILE.id),
                                                   also while the sidecar runs
  cad-sidecar outbox list [--topic T] [--content] [--json] [--config FILE]
                                                   messages waiting (payloads only with --content)
  cad-sidecar links       [--incident ID] [--json] [--config FILE]
                                                   incidents linked to calls, their latest note
  cad-sidecar trace INCIDENT [--json] [--config FILE]
                                                   what the sidecar did for one incident, in order
  cad-sidecar deadletter list [--json] [--content] [--topic T] [--config FILE]
                                                   notes and links given up (text only with --content)
  cad-sidecar deadletter replay ID|--all [--topic T] [--config FILE]
                                                   put dead letters back into the outbox
  cad-sidecar deadletter drop ID [--config FILE]   delete a dead letter for good
  cad-sidecar cursor show|set VALUE [--force]|--reset [--json] [--config FILE]
                                                   show or repair the CAD poll cursor
  cad-sidecar healthcheck [--config FILE] [--addr HOST:PORT] [--ready]
                                                   probe the admin listener (Docker HEALTHCHECK)
  cad-sidecar service install|uninstall|start|stop [--config FILE] [--name NAME]
                                                   Windows: register and control the Windows service
                                                   (install stores the config's absolute path)
  cad-sidecar version

--config defaults to $CAD_SIDECAR_CONFIG, then ./config.yaml.
deadletter, cursor, backup, links, outbox list and trace talk to the running sidecar
(admin.listen, with admin.token when set) or, when it is stopped, work on the data file directly.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitProblems
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "map":
		return cmdMap(rest, stdin, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "outbox":
		if len(rest) > 0 && rest[0] == "list" {
			return cmdOutboxList(ctx, rest[1:], stdout, stderr)
		}
		return cmdOutbox(rest, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr)
	case "links":
		return cmdLinks(ctx, rest, stdout, stderr)
	case "trace":
		return cmdTrace(ctx, rest, stdout, stderr)
	case "deadletter":
		return cmdDeadletter(ctx, rest, stdout, stderr)
	case "cursor":
		return cmdCursor(ctx, rest, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, stdout, stderr)
	case "service":
		return cmdService(ctx, rest, stdout, stderr)
	case "shadow":
		return cmdShadow(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "cad-sidecar", version)
		return exitOK
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return exitProblems
}

// newFlags returns a flag set that reports errors to stderr and does not exit.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitProblems
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitProblems
	}
	return -1
}
