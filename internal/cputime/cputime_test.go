package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/cputime"
)

func TestProcessGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("not measured on this platform")
	}
	before := cputime.Process()
	for deadline := time.Now().Add(time.Second); cputime.Process() == before; {
		if time.Now().After(deadline) {
			t.Fatal("Process did not advance while spinning for a second")
		}
	}
}
