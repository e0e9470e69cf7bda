//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal asks the kernel to SIGKILL redis-server if the benchmark
// dies without stopping it, so no server outlives the tool.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
