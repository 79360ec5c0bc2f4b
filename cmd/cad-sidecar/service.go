package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// The Windows service: `cad-sidecar service install|uninstall|start|stop` registers and
// controls the binary with the Service Control Manager, and `run` started by the service
// manager reports to it (service_windows.go). This file holds what does not need Windows —
// the arguments, the config path, the recovery settings and the control loop — so that it
// is tested everywhere; service_other.go answers "Windows only" elsewhere.

// defaultServiceName is the service's key name (sc.exe query cad-sidecar).
const defaultServiceName = "cad-sidecar"

// serviceStopWait bounds how long `service stop`, `service start` and `uninstall` wait
// for the service to reach the state they asked for.
const serviceStopWait = 60 * time.Second

// serviceSpec is everything `service install` registers.
type serviceSpec struct {
	Name        string
	DisplayName string
	Description string
	Exe         string   // absolute path of the executable
	Config      string   // absolute path of the config file
	Args        []string // what the service manager starts Exe with: run --config Config
	// DelayedAutoStart: start automatically at boot, after the other automatic services
	// (the network and the CAD's own services are up by then).
	DelayedAutoStart bool
	Recovery         recoverySettings
}

// recoverySettings are the service's failure actions: restart after each delay in Restarts
// (one entry per consecutive failure; after the last, nothing), the failure count reset
// after ResetPeriod without failure, and OnNonCrashFailures so that `run` exiting with an
// error (not only a crash) counts as a failure.
type recoverySettings struct {
	Restarts           []time.Duration
	ResetPeriod        time.Duration
	OnNonCrashFailures bool
}

// defaultRecovery restarts the service one minute after each of its first three failures
// within a day; a fourth failure within that day leaves it stopped (something needs a
// person: the config, the data file, the disk).
func defaultRecovery() recoverySettings {
	return recoverySettings{
		Restarts:           []time.Duration{time.Minute, time.Minute, time.Minute},
		ResetPeriod:        24 * time.Hour,
		OnNonCrashFailures: true,
	}
}

// buildServiceSpec resolves the config path (--config, then $CAD_SIDECAR_CONFIG, then
// ./config.yaml) to an absolute one — the service starts in C:\Windows\System32, so a
// relative path would not find it — and builds the service's arguments.
func buildServiceSpec(exe, cfgFlag, name string) (serviceSpec, error) {
	if err := checkServiceName(name); err != nil {
		return serviceSpec{}, err
	}
	if !filepath.IsAbs(exe) {
		return serviceSpec{}, fmt.Errorf("executable path %q is not absolute", exe)
	}
	cfg, err := filepath.Abs(config.ResolvePath(cfgFlag))
	if err != nil {
		return serviceSpec{}, fmt.Errorf("config path: %w", err)
	}
	display := "cad-sidecar"
	if name != defaultServiceName {
		display = "cad-sidecar (" + name + ")"
	}
	return serviceSpec{
		Name:             name,
		DisplayName:      display,
		Description:      "Links CAD incidents to Assist calls and writes Assist's notes into the CAD. Config: " + cfg,
		Exe:              exe,
		Config:           cfg,
		Args:             []string{"run", "--config", cfg},
		DelayedAutoStart: true,
		Recovery:         defaultRecovery(),
	}, nil
}

// checkServiceName refuses names the service manager would refuse or misread.
func checkServiceName(name string) error {
	switch {
	case name == "":
		return errors.New("--name must not be empty")
	case len(name) > 256:
		return errors.New("--name is longer than 256 characters")
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("--name %q must not contain / or \\", name)
	}
	return nil
}

// cmdService is `cad-sidecar service install|uninstall|start|stop [--config FILE] [--name NAME]`.
func cmdService(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if !serviceSupported {
		fmt.Fprintln(stderr, "service: Windows only; on Linux use the systemd unit deploy/cad-sidecar.service, in a container the image's entrypoint (see the README's Install section)")
		return exitProblems
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: cad-sidecar service install|uninstall|start|stop [--config FILE] [--name NAME]")
		return exitProblems
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("service "+sub, stderr)
	name := fs.String("name", defaultServiceName, "service name")
	var cfgPath *string
	if sub == "install" {
		cfgPath = fs.String("config", "", "config file the service runs with (default $CAD_SIDECAR_CONFIG, then ./config.yaml); stored as an absolute path")
	}
	if code := parse(fs, rest); code >= 0 {
		return code
	}
	if err := checkServiceName(*name); err != nil {
		fmt.Fprintln(stderr, "service:", err)
		return exitProblems
	}
	var err error
	switch sub {
	case "install":
		return serviceInstall(*cfgPath, *name, stdout, stderr)
	case "uninstall":
		err = uninstallService(ctx, *name)
	case "start":
		err = startService(ctx, *name)
	case "stop":
		err = stopService(ctx, *name)
	default:
		fmt.Fprintf(stderr, "service: unknown command %q (install, uninstall, start, stop)\n", sub)
		return exitProblems
	}
	if err != nil {
		fmt.Fprintf(stderr, "service %s: %v\n", sub, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "service %s: %s done\n", *name, sub)
	return exitOK
}

// serviceInstall validates the config before registering the service with it, so that a
// service that cannot start is not installed.
func serviceInstall(cfgFlag, name string, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "service install: cannot find this executable:", err)
		return exitFailure
	}
	spec, err := buildServiceSpec(exe, cfgFlag, name)
	if err != nil {
		fmt.Fprintln(stderr, "service install:", err)
		return exitProblems
	}
	cfg, code := loadConfig(spec.Config, stderr)
	if cfg == nil {
		return code
	}
	if cfg.Log.File == "" {
		fmt.Fprintln(stdout, "warning: log.file is not set: a service has no console, so its log would be lost; set log.file (start-up errors also go to the Windows event log)")
	}
	if err := installService(spec); err != nil {
		fmt.Fprintln(stderr, "service install:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "service %s installed: %s %s (automatic, delayed start; restarts 1 minute after each of the first 3 failures in a day)\nstart it with: cad-sidecar service start --name %s\n",
		spec.Name, spec.Exe, strings.Join(spec.Args, " "), spec.Name)
	return exitOK
}

// svcControl is a request from the service manager, as far as run cares.
type svcControl int

// svcState is what run reports to the service manager.
type svcState int

const (
	stateStartPending svcState = iota
	stateRunning
	stateStopPending
)

// serveService runs body under the service manager's control: it reports start pending,
// then running, and cancels body's context when stop is closed (the service manager's
// Stop or Shutdown), reporting stop pending while body winds down — deliveries in flight
// are cancelled and stay in the outbox, as with SIGTERM. It returns body's exit code.
// A ParamChange reloads through serviceControl's reload channel (service_control.go).
func serveService(ctx context.Context, stop <-chan struct{}, report func(svcState), body func(context.Context) int) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	report(stateStartPending)
	done := make(chan int, 1)
	go func() { done <- body(ctx) }()
	report(stateRunning)
	select {
	case code := <-done:
		return code
	case <-stop:
		report(stateStopPending)
		cancel()
		return <-done
	}
}
