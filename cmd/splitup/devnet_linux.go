package main

import "syscall"

// nodeProcAttr makes a node process receive SIGTERM when the devnet
// process dies without stopping it (e.g. SIGKILL), so no node outlives it.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
