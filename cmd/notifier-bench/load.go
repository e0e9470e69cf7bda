package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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
	first  time.Time       // when the first success in the window completed
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

// loadCall is one request of a load run; i counts the run's calls from 0.
type loadCall = func(ctx context.Context, i int64) error

// runLoad calls call from o.Concurrency goroutines back to back for
// o.Warmup + o.Duration (or until o.MaxRequests calls or ctx ends) and
// keeps the calls that complete inside the window after the warm-up.
func runLoad(ctx context.Context, o loadOptions, call loadCall) *loadRun {
	if o.MaxRequests <= 0 {
		o.MaxRequests = math.MaxInt64
	}
	start, cpu0 := time.Now(), snapCPU()
	from := start.Add(o.Warmup)
	until := from.Add(o.Duration)
	var issued, calls atomic.Int64
	type worker struct {
		lat         []time.Duration
		errs        map[string]int64
		nerrs       int64
		first, last time.Time
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
				if wk.first.IsZero() {
					wk.first = t1
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
		if !wk.first.IsZero() && (r.first.IsZero() || wk.first.Before(r.first)) {
			r.first = wk.first
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

// forEach calls f for i in [0, n) from conc goroutines and returns the first
// error, after which the others stop taking work.
func forEach(ctx context.Context, n, conc int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, max(conc, 1))
	for range max(conc, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc // the first failure, or nil
}

// sliceOptions configure measurements that alternate between calls (the
// accept and reads scenarios), so that load from other processes on the
// machine falls on all of them alike.
type sliceOptions struct {
	Concurrency int
	Warmup      time.Duration // of each call, before the slices
	Duration    time.Duration // measured time of each call
	Slice       time.Duration // length of one slice (0 or >= Duration: one each)
	MaxRequests int64
}

// phase is what the runs of one call measured, with redis-server's work
// and the increase of a counter (sendMessage calls) around them.
type phase struct {
	run     *loadRun
	wall    time.Duration
	redis   redisDelta
	counted int
}

// add merges q into p, as if both had run as one.
func (p *phase) add(q phase) {
	if p.run == nil {
		p.run = &loadRun{}
	}
	p.run.add(q.run)
	p.wall += q.wall
	p.redis.add(q.redis)
	p.counted += q.counted
}

// redisCPUPct is redis-server's CPU use over p's wall time, in % of a core.
func (p phase) redisCPUPct() float64 {
	if p.wall <= 0 {
		return 0
	}
	return math.Round(100 * p.redis.cpu / p.wall.Seconds())
}

// perCall is x per call of p, rounded to n decimals (0 without calls).
func (p phase) perCall(x float64, n int) float64 {
	if p.run.calls <= 0 {
		return 0
	}
	return round(x/float64(p.run.calls), n)
}

// measure runs call once as lo says, reading redis-server (through rc) and
// count before and after.
func measure(ctx context.Context, rc *redis.Client, lo loadOptions, count func() int, call loadCall) (phase, error) {
	n0 := count()
	r0, err := readRedis(ctx, rc)
	if err != nil {
		return phase{}, err
	}
	t := time.Now()
	run := runLoad(ctx, lo, call)
	wall := time.Since(t)
	r1, err := readRedis(ctx, rc)
	if err != nil {
		return phase{}, err
	}
	return phase{run: run, wall: wall, redis: r1.since(r0), counted: count() - n0}, nil
}

// alternate warms every call up for o.Warmup, then runs them in turn in
// slices of o.Slice (each starting with sliceWarmup uncounted) until each
// has run o.Duration. It returns one phase per call and the slice count.
func alternate(ctx context.Context, rc *redis.Client, o sliceOptions, count func() int, calls ...loadCall) ([]phase, int, error) {
	warm := loadOptions{Concurrency: o.Concurrency, Duration: o.Warmup, MaxRequests: o.MaxRequests}
	for _, c := range calls {
		runLoad(ctx, warm, c)
	}
	slice := o.Slice
	if slice <= 0 || slice > o.Duration {
		slice = o.Duration
	}
	nSlices := int(math.Ceil(float64(o.Duration) / float64(slice)))
	phases := make([]phase, len(calls))
	for k := range nSlices {
		d := min(slice, o.Duration-time.Duration(k)*slice)
		lo := loadOptions{Concurrency: o.Concurrency, Warmup: sliceWarmup, Duration: d, MaxRequests: o.MaxRequests}
		for j, c := range calls {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			ph, err := measure(ctx, rc, lo, count, c)
			if err != nil {
				return nil, 0, err
			}
			phases[j].add(ph)
		}
	}
	return phases, nSlices, nil
}
