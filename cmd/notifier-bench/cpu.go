package main

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/internal/cputime"
)

// cpuSnap is a reading of CPU counters: this process's and, on Linux, the
// whole machine's (from /proc/stat), so that the load other processes put
// on the machine during a measurement can be reported next to it.
type cpuSnap struct {
	wall    time.Time
	proc    time.Duration
	sysBusy float64 // seconds of non-idle CPU time, all CPUs; <0 if unknown
}

// cpuSpan is the CPU used between two readings.
type cpuSpan struct {
	wall time.Duration
	proc time.Duration
	sys  float64 // seconds; <0 if unknown
}

// cpuUse is CPU use over an interval, in % of one core.
type cpuUse struct {
	ProcessPct float64 `json:"process_cpu_pct"`
	// SystemPct is every process's use (-1 when unknown); the remainder
	// after this process and redis-server is other load on the machine.
	SystemPct float64 `json:"system_cpu_pct"`
}

func snapCPU() cpuSnap {
	return cpuSnap{wall: time.Now(), proc: cputime.Process(), sysBusy: systemBusy()}
}

// since returns the CPU used from s until now.
func (s cpuSnap) since() cpuSpan {
	now := snapCPU()
	sp := cpuSpan{wall: now.wall.Sub(s.wall), proc: now.proc - s.proc, sys: -1}
	if s.sysBusy >= 0 && now.sysBusy >= 0 {
		sp.sys = now.sysBusy - s.sysBusy
	}
	return sp
}

// add sums two spans.
func (a cpuSpan) add(b cpuSpan) cpuSpan {
	s := cpuSpan{wall: a.wall + b.wall, proc: a.proc + b.proc, sys: -1}
	if a.sys >= 0 && b.sys >= 0 {
		s.sys = a.sys + b.sys
	}
	return s
}

// use converts the span to percentages of one core.
func (a cpuSpan) use() cpuUse {
	w := a.wall.Seconds()
	if w <= 0 {
		return cpuUse{SystemPct: -1}
	}
	u := cpuUse{ProcessPct: math.Round(100 * a.proc.Seconds() / w), SystemPct: -1}
	if a.sys >= 0 {
		u.SystemPct = math.Round(100 * a.sys / w)
	}
	return u
}

// systemBusy returns the machine's non-idle CPU seconds since boot from the
// first line of /proc/stat (USER_HZ 100), or -1.
func systemBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var busy float64
	for i, v := range f[1:] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return -1
		}
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		busy += n
	}
	return busy / 100
}

// otherPct is the CPU other processes used: system minus ours minus
// redis-server's, never below 0; -1 when unknown.
func otherPct(u cpuUse, redisPct float64) float64 {
	if u.SystemPct < 0 {
		return -1
	}
	return max(0, u.SystemPct-u.ProcessPct-redisPct)
}
