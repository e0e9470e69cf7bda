//go:build !unix

package main

import "time"

// processCPU is unavailable here; it returns 0.
func processCPU() time.Duration { return 0 }
