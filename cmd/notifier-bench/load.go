package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"
)

// loadOptions bound one closed-loop load run.
type loadOptions struct {
	// Concurrency is the number of callers, each with one request in flight.
	Concurrency int
	// Warmup runs before measuring; its requests are not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// MaxRequests caps the requests issued, warm-up included.
	MaxRequests int64
}

// loadRun is the raw outcome of one or more load runs (see add).
type loadRun struct {
	lat    []time.Duration // successes completed in the window
	errs   map[string]int64
	nerrs  int64
	calls  int64         // every call made, warm-up and stragglers included
	window time.Duration // measured time
	cpu    cpuSpan       // over the whole run, warm-up included
}

// loadResult is what load runs measured: requests completed inside the
// measured windows, their rate and latency.
type loadResult struct {
	Requests  int64            `json:"requests"`
	Errors    int64            `json:"errors"`
	ErrorCode map[string]int64 `json:"error_codes,omitempty"`
	Seconds   float64          `json:"seconds"`
	RPS       float64          `json:"rps"`
	P50Ms     float64          `json:"p50_ms"`
	P90Ms     float64          `json:"p90_ms"`
	P99Ms     float64          `json:"p99_ms"`
	MaxMs     float64          `json:"max_ms"`
	// Calls counts every call made, warm-ups and stragglers included.
	Calls int64 `json:"calls_total"`
	// CPU is the CPU use over the runs (warm-ups included), in % of one
	// core: this process (callers, servers and all) and the machine.
	CPU cpuUse `json:"cpu"`
	// CPUPerCallUs is this process's CPU time per call (all calls, all of
	// the process's work), in microseconds.
	CPUPerCallUs float64 `json:"process_cpu_us_per_call"`
}

// runLoad calls call from o.Concurrency goroutines back to back for
// o.Warmup + o.Duration (or until o.MaxRequests calls or ctx ends) and
// keeps the calls that complete inside the window after the warm-up.
func runLoad(ctx context.Context, o loadOptions, call func(ctx context.Context, i int64) error) *loadRun {
	if o.MaxRequests <= 0 {
		o.MaxRequests = math.MaxInt64
	}
	start, cpu0 := time.Now(), snapCPU()
	from := start.Add(o.Warmup)
	until := from.Add(o.Duration)
	var issued, calls atomic.Int64
	type worker struct {
		lat   []time.Duration
		errs  map[string]int64
		nerrs int64
		last  time.Time
	}
	workers := make([]*worker, max(o.Concurrency, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wk := &worker{errs: map[string]int64{}}
		workers[w] = wk
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(until) {
				i := issued.Add(1) - 1
				if i >= o.MaxRequests {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				t0 := time.Now()
				err := call(cctx, i)
				t1 := time.Now()
				cancel()
				calls.Add(1)
				if t1.Before(from) || !t1.Before(until) {
					continue
				}
				wk.last = t1
				if err != nil {
					wk.nerrs++
					wk.errs[status.Code(err).String()]++
					continue
				}
				wk.lat = append(wk.lat, t1.Sub(t0))
			}
		})
	}
	wg.Wait()

	r := &loadRun{errs: map[string]int64{}, calls: calls.Load(), cpu: cpu0.since()}
	end := from
	for _, wk := range workers {
		r.lat = append(r.lat, wk.lat...)
		r.nerrs += wk.nerrs
		for k, v := range wk.errs {
			r.errs[k] += v
		}
		if wk.last.After(end) {
			end = wk.last
		}
	}
	if time.Now().After(until) && issued.Load() < o.MaxRequests && ctx.Err() == nil {
		end = until // ran the whole window
	}
	r.window = end.Sub(from)
	return r
}

// add merges o into r, as if both had run as one.
func (r *loadRun) add(o *loadRun) {
	r.lat = append(r.lat, o.lat...)
	if r.errs == nil {
		r.errs = map[string]int64{}
	}
	for k, v := range o.errs {
		r.errs[k] += v
	}
	r.nerrs += o.nerrs
	r.calls += o.calls
	r.window += o.window
	r.cpu = r.cpu.add(o.cpu)
}

// result summarises r.
func (r *loadRun) result() loadResult {
	res := loadResult{
		Requests: int64(len(r.lat)), Errors: r.nerrs, Calls: r.calls,
		Seconds: round(r.window.Seconds(), 3), CPU: r.cpu.use(),
	}
	if len(r.errs) > 0 {
		res.ErrorCode = r.errs
	}
	if r.calls > 0 {
		res.CPUPerCallUs = round(float64(r.cpu.proc.Microseconds())/float64(r.calls), 1)
	}
	if r.window > 0 {
		res.RPS = round(float64(res.Requests)/r.window.Seconds(), 1)
	}
	all := slices.Clone(r.lat)
	slices.Sort(all)
	res.P50Ms = ms(percentile(all, 0.50))
	res.P90Ms = ms(percentile(all, 0.90))
	res.P99Ms = ms(percentile(all, 0.99))
	res.MaxMs = ms(percentile(all, 1))
	return res
}

// percentile returns the p-quantile (nearest rank) of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms converts d to milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
