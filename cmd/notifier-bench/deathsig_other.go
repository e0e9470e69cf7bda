//go:build !linux

package main

import "os/exec"

// setDeathSignal is a no-op where the parent-death signal is unavailable.
func setDeathSignal(*exec.Cmd) {}
