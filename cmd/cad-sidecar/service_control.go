package main

// The service manager's requests, as far as run cares, apart from the Windows types
// (golang.org/x/sys/windows/svc builds on Windows only): service_windows.go maps svc.Cmd
// to svcControl and lets serviceControl act, so that what each request does is tested on
// every platform (service_control_test.go).
const (
	controlOther       svcControl = iota // answered by nothing (not accepted)
	controlInterrogate                   // answer the current status
	controlStop                          // Stop or Shutdown: cancel the run
	controlParamChange                   // ParamChange: reload, as SIGHUP does elsewhere
)

// serviceControl turns the service manager's requests into the run's actions: Stop (and
// Shutdown) close stop once; ParamChange (`sc.exe control NAME paramchange`) asks for a
// reload of the mapping and note templates on reload — what SIGHUP does on Linux
// (reloadOnSIGHUP). Reload requests coalesce: one arriving while another waits is the
// same reload.
type serviceControl struct {
	stop    chan struct{}
	reload  chan struct{}
	stopped bool
}

func newServiceControl() *serviceControl {
	return &serviceControl{stop: make(chan struct{}), reload: make(chan struct{}, 1)}
}

// handle acts on c and reports whether the current status must be sent back
// (Interrogate).
func (sc *serviceControl) handle(c svcControl) (answerStatus bool) {
	switch c {
	case controlInterrogate:
		return true
	case controlStop:
		if !sc.stopped {
			sc.stopped = true
			close(sc.stop)
		}
	case controlParamChange:
		select {
		case sc.reload <- struct{}{}:
		default: // a reload is already asked for
		}
	}
	return false
}
