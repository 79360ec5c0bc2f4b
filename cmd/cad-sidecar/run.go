package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// cmdRun is `run`; started by the Windows service manager it reports to it, and Stop or
// Shutdown cancel ctx (service_windows.go).
func cmdRun(ctx context.Context, args []string, stderr io.Writer) int {
	return runMaybeService(ctx, stderr, func(ctx context.Context, stderr io.Writer) int {
		return runSidecar(ctx, args, stderr)
	})
}

func runSidecar(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "config file (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	cfg, code := loadConfig(*cfgPath, stderr)
	if cfg == nil {
		return code
	}
	log, closeLog, err := newRunLogger(stderr, cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, "run: cannot open the log file:", err)
		return exitFailure
	}
	defer closeLog()
	s, err := sidecar.New(cfg, sidecar.Options{Logger: log, Version: version})
	if err != nil {
		// A damaged, missing or swapped data file: exit 1 (not 2, the bad-config code),
		// with the file and the commands to use.
		if hint := storeErrorHint(err, cfg.File); hint != "" {
			log.Error("cannot start: "+hint, "file", sidecar.StorePath(cfg), "err", err)
			return exitFailure
		}
		log.Error("cannot start", "err", err)
		return exitFailure
	}
	stopReload := reloadOnSIGHUP(ctx, s, log)
	defer stopReload()
	if err := s.Run(ctx); err != nil {
		if hint := storeErrorHint(err, cfg.File); hint != "" {
			log.Error("stopped: "+hint, "file", sidecar.StorePath(cfg), "err", err)
			return exitFailure
		}
		log.Error("stopped with an error", "err", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	cfgPath := fs.String("config", "", "config file (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	connect := fs.Bool("connect", false, "also connect to the CAD: dry-run the poll and the note statement (nothing is changed)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	cfg, code := loadConfig(*cfgPath, stdout)
	if cfg == nil {
		return code
	}
	if p := cfg.AdminTokenProblem(); p != "" { // run refuses to start with it
		fmt.Fprintln(stdout, p)
		return exitProblems
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning: "+w.String())
	}
	if *connect {
		if code := validateConnect(ctx, cfg, stdout); code != exitOK {
			return code
		}
	}
	fmt.Fprintf(stdout, "%s: ok (adapter %s, notes %s)\n", cfg.File, cfg.CAD.Adapter, cfg.Assist.Notes)
	return exitOK
}

// loadConfig loads and validates the config; on problems it prints one line per problem
// to w and returns exit code 2.
func loadConfig(flagPath string, w io.Writer) (*config.Config, int) {
	path := config.ResolvePath(flagPath)
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(w, p.String())
			}
		} else {
			fmt.Fprintf(w, "%s: %v\n", path, err)
		}
		return nil, exitProblems
	}
	return cfg, exitOK
}

func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
