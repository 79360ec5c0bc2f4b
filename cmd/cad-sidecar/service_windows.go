//go:build windows

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceSupported: this build talks to the Windows Service Control Manager.
const serviceSupported = true

// connectSCM connects to the local service manager, which needs an elevated prompt.
func connectSCM() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("connect to the service manager (run the command as Administrator): %w", err)
	}
	return m, nil
}

// installService registers spec: automatic (delayed) start, the recovery actions, and an
// event log source of the same name for start-up errors.
func installService(spec serviceSpec) error {
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(spec.Name); err == nil {
		s.Close()
		return fmt.Errorf("service %q already exists (cad-sidecar service uninstall --name %s first)", spec.Name, spec.Name)
	}
	s, err := m.CreateService(spec.Name, spec.Exe, mgr.Config{
		DisplayName:      spec.DisplayName,
		Description:      spec.Description,
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: spec.DelayedAutoStart,
		ErrorControl:     mgr.ErrorNormal,
	}, spec.Args...)
	if err != nil {
		return fmt.Errorf("create service %q: %w", spec.Name, err)
	}
	defer s.Close()
	actions := make([]mgr.RecoveryAction, len(spec.Recovery.Restarts))
	for i, d := range spec.Recovery.Restarts {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	if err := s.SetRecoveryActions(actions, uint32(spec.Recovery.ResetPeriod/time.Second)); err != nil {
		s.Delete()
		return fmt.Errorf("set recovery actions of %q (service removed again): %w", spec.Name, err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(spec.Recovery.OnNonCrashFailures); err != nil {
		s.Delete()
		return fmt.Errorf("set recovery on non-crash failures of %q (service removed again): %w", spec.Name, err)
	}
	if err := eventlog.InstallAsEventCreate(spec.Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !isRegistryKeyExists(err) {
		s.Delete()
		return fmt.Errorf("register event log source %q (service removed again): %w", spec.Name, err)
	}
	return nil
}

// isRegistryKeyExists: eventlog.InstallAsEventCreate reports an existing source (left by an
// earlier install) with a plain error ("... registry key already exists").
func isRegistryKeyExists(err error) bool {
	return strings.Contains(err.Error(), "registry key already exists")
}

// uninstallService stops the service if it runs, then removes it and its event source.
func uninstallService(ctx context.Context, name string) error {
	return withService(name, func(s *mgr.Service) error {
		if st, err := s.Query(); err == nil && st.State != svc.Stopped {
			if err := controlAndWait(ctx, s, svc.Stop, svc.Stopped); err != nil {
				return err
			}
		}
		if err := s.Delete(); err != nil {
			return fmt.Errorf("delete service %q: %w", name, err)
		}
		eventlog.Remove(name) // best effort: the service itself is gone
		return nil
	})
}

// startService starts the service and waits until it runs, or says how it stopped.
func startService(ctx context.Context, name string) error {
	return withService(name, func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service %q: %w", name, err)
		}
		return waitState(ctx, s, svc.Running)
	})
}

// stopService asks the service to stop and waits until it has.
func stopService(ctx context.Context, name string) error {
	return withService(name, func(s *mgr.Service) error {
		return controlAndWait(ctx, s, svc.Stop, svc.Stopped)
	})
}

// withService connects to the service manager, opens the service name and calls fn with it.
func withService(name string, fn func(*mgr.Service) error) error {
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("open service %q: %w", name, err)
	}
	defer s.Close()
	return fn(s)
}

func controlAndWait(ctx context.Context, s *mgr.Service, c svc.Cmd, want svc.State) error {
	if _, err := s.Control(c); err != nil {
		return fmt.Errorf("control service %q: %w", s.Name, err)
	}
	return waitState(ctx, s, want)
}

// waitState polls the service's state (the service manager has no notification for a
// console program) until it is want, bounded by serviceStopWait.
func waitState(ctx context.Context, s *mgr.Service, want svc.State) error {
	ctx, cancel := context.WithTimeout(ctx, serviceStopWait)
	defer cancel()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %q: %w", s.Name, err)
		}
		if st.State == want {
			return nil
		}
		if want == svc.Running && st.State == svc.Stopped {
			return fmt.Errorf("service %q stopped right after starting (exit code %d, service code %d): see log.file or the Windows event log (source %s)", s.Name, st.Win32ExitCode, st.ServiceSpecificExitCode, s.Name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %q still in state %d after %s: %w", s.Name, st.State, serviceStopWait, ctx.Err())
		case <-tick.C:
		}
	}
}

// runMaybeService runs body under the service manager when the process was started by it
// (svc.IsWindowsService), else directly (with no reload requests). Under the service manager stderr goes nowhere, so
// what body writes there (config problems, start-up errors before log.file is open) is
// also kept and sent to the Windows event log when body fails.
func runMaybeService(ctx context.Context, stderr io.Writer, body func(context.Context, io.Writer, <-chan struct{}) int) int {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return body(ctx, stderr, nil)
	}
	h := &windowsService{ctx: ctx, stderr: stderr, body: body}
	if err := svc.Run(defaultServiceName, h); err != nil { // the name is ignored for an own-process service
		fmt.Fprintln(stderr, "run: service manager:", err)
		return exitFailure
	}
	return h.code
}

// windowsService is the svc.Handler of run.
type windowsService struct {
	ctx    context.Context
	stderr io.Writer
	body   func(context.Context, io.Writer, <-chan struct{}) int
	code   int
}

// Execute translates the service manager's requests (serviceControl): Stop and Shutdown
// cancel the run (serveService); Interrogate is answered with the current status;
// ParamChange (`sc.exe control NAME paramchange`) reloads the mapping and note templates,
// as SIGHUP does elsewhere (the admin API's POST /api/v1/reload does the same).
func (h *windowsService) Execute(args []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	name := defaultServiceName
	if len(args) > 0 && args[0] != "" {
		name = args[0]
	}
	early := &boundedBuffer{max: 16 << 10}
	stderr := io.MultiWriter(h.stderr, early)
	ctl := newServiceControl()
	result := make(chan int, 1)
	report := func(st svcState) {
		switch st {
		case stateStartPending:
			s <- svc.Status{State: svc.StartPending, WaitHint: 30000}
		case stateRunning:
			s <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown | svc.AcceptParamChange}
		case stateStopPending:
			s <- svc.Status{State: svc.StopPending, WaitHint: uint32(serviceStopWait / time.Millisecond)}
		}
	}
	go func() {
		result <- serveService(h.ctx, ctl.stop, report, func(ctx context.Context) int { return h.body(ctx, stderr, ctl.reload) })
	}()
	for {
		select {
		case code := <-result:
			h.code = code
			if code != exitOK {
				reportToEventLog(name, early.String(), code)
				return true, uint32(code)
			}
			return false, 0
		case c := <-r:
			if ctl.handle(controlOf(c.Cmd)) {
				s <- c.CurrentStatus
			}
		}
	}
}

// controlOf maps the service manager's command to what run does with it.
func controlOf(c svc.Cmd) svcControl {
	switch c {
	case svc.Interrogate:
		return controlInterrogate
	case svc.Stop, svc.Shutdown:
		return controlStop
	case svc.ParamChange:
		return controlParamChange
	}
	return controlOther
}

// reportToEventLog writes why run failed to the Windows event log (source name, registered
// by `service install`); best effort.
func reportToEventLog(name, text string, code int) {
	l, err := eventlog.Open(name)
	if err != nil {
		return
	}
	defer l.Close()
	if text == "" {
		text = "(nothing written before the failure; see log.file)"
	}
	l.Error(1, fmt.Sprintf("cad-sidecar run exited with code %d:\n%s", code, text))
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
