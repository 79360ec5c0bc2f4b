package dbtest

import "syscall"

// setPdeathsig: a server is killed when the test process dies (even by SIGKILL), so no
// server outlives its tests.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
