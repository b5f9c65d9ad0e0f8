package e2e

import "syscall"

// childAttr makes a child die with the test binary (e.g. on a test timeout
// panic), so no Envoy or jwtgate outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
