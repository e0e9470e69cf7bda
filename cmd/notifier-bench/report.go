package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/store/redistest"
)

// machine describes where a figure was measured.
type machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemMiB     int64  `json:"mem_mib"`
	Go         string `json:"go"`
	Redis      string `json:"redis"`
	OS         string `json:"os"`
}

// describeMachine reads the CPU model and RAM from /proc (where there is
// one) and asks the running redis-server for its version.
func describeMachine(ctx context.Context, r *redistest.Server) machine {
	m := machine{
		CPU: "unknown", CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		m.MemMiB = kb / 1024
	}
	if r != nil {
		c := redisClient(r, 1)
		defer c.Close()
		if f, err := infoFields(ctx, c, "server"); err == nil {
			m.Redis = f["redis_version"]
		}
	}
	return m
}

// procField returns the first value of key in a "key : value" /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// String is the machine on one line.
func (m machine) String() string {
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %d MiB RAM, %s, redis-server %s, %s",
		m.CPU, m.CPUs, m.GOMAXPROCS, m.MemMiB, m.Go, m.Redis, m.OS)
}

// header is common to every scenario's JSON line.
type header struct {
	Scenario string  `json:"scenario"`
	Date     string  `json:"date"`
	Machine  machine `json:"machine"`
}

func newHeader(scenario string, m machine) header {
	return header{Scenario: scenario, Date: time.Now().UTC().Format(time.RFC3339), Machine: m}
}

// emit writes the human-readable lines, then the result as one JSON line.
func emit(w io.Writer, lines []string, result any) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(result)
}

// verdict is "PASS" or "MISS".
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// fmtLoad is one load result on one line.
func fmtLoad(r loadResult) string {
	s := fmt.Sprintf("%9.0f req/s  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%d ok in %.2f s",
		r.RPS, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.Requests, r.Seconds)
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d ERRORS %v", r.Errors, r.ErrorCode)
	}
	return s + ")"
}

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}
