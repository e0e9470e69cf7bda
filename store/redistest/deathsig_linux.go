//go:build linux

package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal asks the kernel to SIGKILL the server if the test process
// dies without running its cleanups, so no redis-server outlives go test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
