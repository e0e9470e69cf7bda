package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/events"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
)

// eventsOptions configure the events scenario: (a) the rate one
// WatchEvents stream keeps up with, (b) Redis memory per retained event.
type eventsOptions struct {
	Redis redisOptions
	// Rates are the append rates tried in turn (events/s), each for Step;
	// set from the -rates flag by validate. None: part (a) is skipped.
	Rates []float64
	rates string
	// Step is how long each rate runs; MaxLag is the lag (receive time
	// minus the event's time) every event of a step must stay under for
	// the stream to count as keeping up.
	Step, MaxLag time.Duration
	// DrainTimeout bounds the wait, after a step's appends, for the stream
	// to deliver the step's last event.
	DrainTimeout time.Duration
	// Concurrency is the number of appenders (store.Redis.Append callers).
	Concurrency int
	// MemoryEvents is N of part (b) (0: skipped).
	MemoryEvents int
}

// check rejects options the scenario cannot run with.
func (o eventsOptions) check() error {
	switch {
	case o.Concurrency < 1 || o.Concurrency > 1024 || o.Step <= 0 || o.Step > 5*time.Minute || o.MaxLag <= 0 || o.DrainTimeout <= 0:
		return errors.New("events: want -concurrency 1-1024, -step in (0, 5m], and -max-lag, -drain-timeout > 0")
	case o.MemoryEvents < 0 || o.MemoryEvents > 10_000_000:
		return errors.New("events: want -memory-events 0-10000000")
	case len(o.Rates) == 0 && o.MemoryEvents == 0:
		return errors.New("events: nothing to run: want -rates or -memory-events")
	case len(o.Rates) > 20:
		return errors.New("events: at most 20 -rates")
	}
	for _, r := range o.Rates {
		if r < 1 || r > 1_000_000 {
			return fmt.Errorf("events: rate %g: want 1-1000000 events/s", r)
		}
	}
	return nil
}

func (o *eventsOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&o.rates, prefix+"rates", "1000,2000,5000,10000,20000,40000",
		"events: append rates tried in turn, events/s, comma-separated (empty: skip the stream part)")
	fs.DurationVar(&o.Step, prefix+"step", 10*time.Second, "events: how long each rate runs")
	fs.DurationVar(&o.MaxLag, prefix+"max-lag", time.Second, "events: the stream keeps up when every event's lag is below this")
	fs.DurationVar(&o.DrainTimeout, prefix+"drain-timeout", 30*time.Second, "events: bound on waiting for a step's last event on the stream")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 32, "events: concurrent appenders")
	fs.IntVar(&o.MemoryEvents, prefix+"memory-events", 100_000, "events: events appended to measure memory per event (0: skip)")
}

// validate parses -rates, then checks.
func (o *eventsOptions) validate() error {
	o.Rates = nil
	for f := range strings.SplitSeq(o.rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return fmt.Errorf("-rates %q: %w", o.rates, err)
		}
		o.Rates = append(o.Rates, r)
	}
	return o.check()
}

func (o *eventsOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runEvents(ctx, *o, w)
	return err
}

// eventsStep is one rate of part (a).
type eventsStep struct {
	TargetPerS float64 `json:"target_per_s"`
	// Appended counts the successful appends; AppendPerS is their rate
	// over the step (below the target when the appenders cannot keep up).
	Appended   int64   `json:"appended"`
	AppendPerS float64 `json:"append_per_s"`
	// Append is the load run of the appenders; its latencies are those of
	// the Append calls alone (not the pacing waits).
	Append loadResult `json:"append"`
	// Received counts the step's events the stream delivered; DrainMs is
	// how long after the last append the last of them arrived.
	Received int64   `json:"received"`
	DrainMs  float64 `json:"drain_ms"`
	// Lag is receive time minus the event's time (its entry id's ms).
	LagP50Ms float64 `json:"lag_p50_ms"`
	LagP90Ms float64 `json:"lag_p90_ms"`
	LagP99Ms float64 `json:"lag_p99_ms"`
	LagMaxMs float64 `json:"lag_max_ms"`
	// Bounded: every event arrived and every lag stayed below MaxLag.
	Bounded     bool    `json:"bounded"`
	RedisCPUPct float64 `json:"redis_cpu_pct"`
	OtherCPUPct float64 `json:"other_processes_cpu_pct"`
}

// eventsMemory is part (b).
type eventsMemory struct {
	Events            int               `json:"events"`
	Shape             map[string]string `json:"entry_example"`
	UsedMemoryBefore  int64             `json:"used_memory_before"`
	UsedMemoryAfter   int64             `json:"used_memory_after"`
	BytesPerEvent     float64           `json:"bytes_per_event"`
	DatasetPerEvent   float64           `json:"dataset_bytes_per_event"`
	StreamMemoryUsage int64             `json:"stream_memory_usage"`
	AppendSeconds     float64           `json:"append_seconds"`
}

// eventsResult is the events scenario's JSON line.
type eventsResult struct {
	header
	Config struct {
		Rates        []float64 `json:"rates"`
		StepS        float64   `json:"step_s"`
		MaxLagMs     float64   `json:"max_lag_ms"`
		Concurrency  int       `json:"concurrency"`
		MemoryEvents int       `json:"memory_events"`
		Redis        string    `json:"redis"`
		Appender     string    `json:"appender"`
	} `json:"config"`
	Steps []eventsStep `json:"steps,omitempty"`
	// MaxBoundedPerS is the append rate reached by the fastest step the
	// stream kept up with (0: none); AppendBound says that step's
	// appenders fell short of its target (the stream kept up with all
	// they made, so the stream's own limit is higher).
	MaxBoundedPerS float64       `json:"max_bounded_events_per_s"`
	AppendBound    bool          `json:"append_bound"`
	Memory         *eventsMemory `json:"memory,omitempty"`
}

// benchEvent returns the i-th event of a typical NOTIFICATION_SENT shape,
// the fields settle.lua appends: user, chat, a 32-hex-digit notification
// id and state SENT (3), of one of users.
func benchEvent(users []benchUser, i int64, rnd *rand.Rand) events.Event {
	u := users[i%int64(len(users))]
	return events.Event{
		Type: events.TypeNotificationSent, UserID: u.ID, ChatID: u.Chat, State: 3,
		NotificationID: fmt.Sprintf("%016x%016x", rnd.Uint64(), rnd.Uint64()),
	}
}

// runEvents measures (a) the append rates one WatchEvents stream keeps up
// with and (b) Redis memory per retained event.
func runEvents(ctx context.Context, o eventsOptions, w io.Writer) (eventsResult, error) {
	var res eventsResult
	if err := o.check(); err != nil {
		return res, err
	}
	c := &res.Config
	c.Rates, c.StepS, c.MaxLagMs = o.Rates, o.Step.Seconds(), ms(o.MaxLag)
	c.Concurrency, c.MemoryEvents, c.Redis = o.Concurrency, o.MemoryEvents, o.Redis.persistence()
	c.Appender = "store.Redis.Append (events_append.lua) on the service's redis-server, in this process"
	var lines []string
	var m machine
	if len(o.Rates) > 0 {
		l, mm, err := runEventsStream(ctx, o, &res)
		if err != nil {
			return res, err
		}
		lines, m = append(lines, l...), mm
	}
	if o.MemoryEvents > 0 {
		l, mm, err := runEventsMemory(ctx, o, &res)
		if err != nil {
			return res, err
		}
		lines, m = append(lines, l...), mm
	}
	res.header = newHeader("events", m)
	lines = append([]string{"events: " + m.String()}, lines...)
	return res, emit(w, lines, res)
}

// eventWatcher is one WatchEvents stream's receiver: the lag of every
// event received, in order.
type eventWatcher struct {
	mu   sync.Mutex
	lags []time.Duration
	err  error
	n    atomic.Int64
}

// watchEvents opens a WatchEvents stream from the oldest retained event
// and records each event's lag until ctx ends or the stream fails.
func watchEvents(ctx context.Context, client notifierv1.NotifierServiceClient) (*eventWatcher, error) {
	stream, err := client.WatchEvents(ctx, &notifierv1.WatchEventsRequest{})
	if err != nil {
		return nil, fmt.Errorf("WatchEvents: %w", err)
	}
	ew := &eventWatcher{}
	go func() {
		for {
			e, err := stream.Recv()
			now := time.Now()
			if err != nil {
				ew.mu.Lock()
				ew.err = err
				ew.mu.Unlock()
				return
			}
			if e.GetCursor() == "" {
				continue // a heartbeat
			}
			ew.mu.Lock()
			ew.lags = append(ew.lags, now.Sub(e.GetTime().AsTime()))
			ew.mu.Unlock()
			ew.n.Add(1)
		}
	}()
	return ew, nil
}

// await waits until n events have arrived, bounded by timeout.
func (ew *eventWatcher) await(ctx context.Context, n int64, timeout time.Duration) error {
	return poll.Until(ctx, timeout, fmt.Sprintf("%d events on the stream", n), func() (bool, error) {
		if err := ew.streamErr(); err != nil {
			return false, fmt.Errorf("WatchEvents stream: %w", err)
		}
		return ew.n.Load() >= n, nil
	})
}

// streamErr is the error that ended the stream, if it ended.
func (ew *eventWatcher) streamErr() error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.err
}

// lagsOf returns the sorted lags of events [from, to).
func (ew *eventWatcher) lagsOf(from, to int64) []time.Duration {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	to = min(to, int64(len(ew.lags)))
	if from >= to {
		return nil
	}
	out := slices.Clone(ew.lags[from:to])
	slices.Sort(out)
	return out
}

// runEventsStream is part (a): a service with one WatchEvents stream, and
// events appended through the store at each rate in turn; it stops after
// the first rate the stream does not keep up with.
func runEventsStream(ctx context.Context, o eventsOptions, res *eventsResult) ([]string, machine, error) {
	svc, err := startService(ctx, serviceOptions{Redis: o.Redis})
	if err != nil {
		return nil, machine{}, err
	}
	defer svc.Close()
	m := describeMachine(ctx, svc.redis)
	st := store.NewRedis(redisClient(svc.redis, o.Concurrency), store.KeyPrefix(svc.redis.URL()))
	defer st.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ew, err := watchEvents(sctx, svc.client)
	if err != nil {
		return nil, m, err
	}
	users := makeUsers(1000)
	rnd := rand.New(rand.NewPCG(1, 2))
	// One event first: the stream is up and the script is loaded.
	if _, err := st.Append(ctx, benchEvent(users, 0, rnd)); err != nil {
		return nil, m, err
	}
	if err := ew.await(ctx, 1, readyTimeout); err != nil {
		return nil, m, err
	}
	lines := []string{fmt.Sprintf("events (a): one WatchEvents stream (gRPC, in-process service); NOTIFICATION_SENT events appended by %d callers of %s, each rate for %.1f s; keeps up = every event within %v",
		o.Concurrency, res.Config.Appender, o.Step.Seconds(), o.MaxLag)}
	base := int64(1)
	for _, rate := range o.Rates {
		step, err := eventsRate(ctx, o, svc, st, ew, rate, base, users)
		if err != nil {
			return nil, m, err
		}
		base += step.Appended
		res.Steps = append(res.Steps, step)
		lines = append(lines, step.line())
		if !step.Bounded {
			break
		}
		res.MaxBoundedPerS = max(res.MaxBoundedPerS, step.AppendPerS)
	}
	// Every rate kept up with, the last one short of its target: the
	// appenders, not the stream, set the highest rate.
	last := res.Steps[len(res.Steps)-1]
	res.AppendBound = last.Bounded && last.appendShort()
	verdictLine := fmt.Sprintf("  highest rate kept up with: %.0f events/s", res.MaxBoundedPerS)
	if res.AppendBound {
		verdictLine += " (the appenders' limit on this machine, not the stream's: it kept up with all they made)"
	}
	return append(lines, verdictLine), m, nil
}

// eventsRate runs one rate: appends paced at rate for o.Step from
// o.Concurrency callers (events numbered from base on the stream), then
// waits for the stream to deliver them and measures their lag.
func eventsRate(ctx context.Context, o eventsOptions, svc *service, st *store.Redis, ew *eventWatcher,
	rate float64, base int64, users []benchUser) (eventsStep, error) {
	step := eventsStep{TargetPerS: rate}
	var appended atomic.Int64
	var rmu sync.Mutex // guards rnd and took
	var took []time.Duration
	rnd := rand.New(rand.NewPCG(uint64(base), uint64(rate)))
	interval := float64(time.Second) / rate
	lo := loadOptions{Concurrency: o.Concurrency, Duration: o.Step, MaxRequests: int64(rate * o.Step.Seconds())}
	t0 := time.Now()
	call := func(ctx context.Context, i int64) error {
		if d := time.Until(t0.Add(time.Duration(float64(i) * interval))); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		rmu.Lock()
		e := benchEvent(users, i, rnd)
		rmu.Unlock()
		a0 := time.Now()
		if _, err := st.Append(ctx, e); err != nil {
			return err
		}
		d := time.Since(a0)
		rmu.Lock()
		took = append(took, d)
		rmu.Unlock()
		appended.Add(1)
		return nil
	}
	ph, err := measure(ctx, svc.probe, lo, func() int { return int(ew.n.Load()) }, call)
	if err != nil {
		return step, err
	}
	appendEnd := time.Now()
	step.Appended, step.Append = appended.Load(), ph.run.result()
	slices.Sort(took) // the appends alone, without the pacing waits
	step.Append.P50Ms, step.Append.P90Ms = ms(percentile(took, 0.5)), ms(percentile(took, 0.9))
	step.Append.P99Ms, step.Append.MaxMs = ms(percentile(took, 0.99)), ms(percentile(took, 1))
	step.AppendPerS = round(float64(step.Appended)/appendEnd.Sub(t0).Seconds(), 1)
	step.RedisCPUPct = ph.redisCPUPct()
	step.OtherCPUPct = otherPct(ph.run.cpu.use(), step.RedisCPUPct)
	drained := ew.await(ctx, base+step.Appended, o.DrainTimeout) == nil
	if err := ctx.Err(); err != nil {
		return step, err
	}
	if err := ew.streamErr(); err != nil {
		return step, fmt.Errorf("WatchEvents stream at %g events/s: %w", rate, err)
	}
	step.DrainMs = ms(time.Since(appendEnd))
	lags := ew.lagsOf(base, base+step.Appended)
	step.Received = int64(len(lags))
	step.LagP50Ms, step.LagP90Ms = ms(percentile(lags, 0.5)), ms(percentile(lags, 0.9))
	step.LagP99Ms, step.LagMaxMs = ms(percentile(lags, 0.99)), ms(percentile(lags, 1))
	step.Bounded = drained && step.Received == step.Appended && percentile(lags, 1) < o.MaxLag
	return step, nil
}

// appendShort reports whether the appenders fell short of the target.
func (s eventsStep) appendShort() bool { return s.AppendPerS < 0.95*s.TargetPerS }

// line is a step on one line.
func (s eventsStep) line() string {
	short := ""
	if s.appendShort() {
		short = ", short of the target"
	}
	l := fmt.Sprintf("  %6.0f/s target: appended %d (%.0f/s%s, Append p50 %.3f ms p99 %.3f ms), stream received %d, lag p50 %.1f p90 %.1f p99 %.1f max %.1f ms, last %.0f ms after the appends: %s; CPU this process %.0f%%, redis-server %.0f%%, other processes %.0f%%",
		s.TargetPerS, s.Appended, s.AppendPerS, short, s.Append.P50Ms, s.Append.P99Ms, s.Received, s.LagP50Ms, s.LagP90Ms, s.LagP99Ms, s.LagMaxMs,
		s.DrainMs, keptUp(s.Bounded), s.Append.CPU.ProcessPct, s.RedisCPUPct, s.OtherCPUPct)
	if s.Append.Errors > 0 {
		l += fmt.Sprintf("; %d APPEND ERRORS %v", s.Append.Errors, s.Append.ErrorCode)
	}
	return l
}

// keptUp is "kept up" or "FELL BEHIND".
func keptUp(ok bool) string {
	if ok {
		return "kept up"
	}
	return "FELL BEHIND"
}

// runEventsMemory is part (b): on a fresh redis-server, INFO memory
// used_memory before and after appending o.MemoryEvents events of the
// typical NOTIFICATION_SENT shape through store.Redis.Append, with every
// appending connection closed before the second reading.
func runEventsMemory(ctx context.Context, o eventsOptions, res *eventsResult) ([]string, machine, error) {
	rs, err := startRedis(ctx, o.Redis)
	if err != nil {
		return nil, machine{}, err
	}
	defer rs.Close()
	m := describeMachine(ctx, rs)
	probe := redisClient(rs, 1)
	defer probe.Close()
	users := makeUsers(1000)
	rnd := rand.New(rand.NewPCG(3, 4))
	// Warm up: the first append loads the script, which is not per-event
	// memory.
	warm := store.NewRedis(redisClient(rs, 1), store.DefaultRedisPrefix)
	_, err = warm.Append(ctx, benchEvent(users, 0, rnd))
	_ = warm.Close()
	if err != nil {
		return nil, m, err
	}
	if err := probe.FlushAll(ctx).Err(); err != nil {
		return nil, m, err
	}
	mem := &eventsMemory{Events: o.MemoryEvents}
	var ds0, ds1 int64
	if mem.UsedMemoryBefore, ds0, err = readMemory(ctx, probe); err != nil {
		return nil, m, err
	}
	st := store.NewRedis(redisClient(rs, o.Concurrency), store.DefaultRedisPrefix)
	var rmu sync.Mutex
	t0 := time.Now()
	err = forEach(ctx, o.MemoryEvents, o.Concurrency, func(ctx context.Context, i int) error {
		rmu.Lock()
		e := benchEvent(users, int64(i), rnd)
		rmu.Unlock()
		_, err := st.Append(ctx, e)
		return err
	})
	mem.AppendSeconds = round(time.Since(t0).Seconds(), 2)
	_ = st.Close()
	if err != nil {
		return nil, m, err
	}
	if mem.UsedMemoryAfter, ds1, err = readMemory(ctx, probe); err != nil {
		return nil, m, err
	}
	if err := streamShape(ctx, probe, mem); err != nil {
		return nil, m, err
	}
	n := float64(o.MemoryEvents)
	mem.BytesPerEvent = round(float64(mem.UsedMemoryAfter-mem.UsedMemoryBefore)/n, 1)
	mem.DatasetPerEvent = round(float64(ds1-ds0)/n, 1)
	res.Memory = mem
	return []string{
		fmt.Sprintf("events (b): %d NOTIFICATION_SENT events appended through store.Redis.Append (%d at a time) in %.1f s to a fresh redis-server (%s); entry %v",
			mem.Events, o.Concurrency, mem.AppendSeconds, o.Redis.persistence(), mem.Shape),
		fmt.Sprintf("  used_memory %d -> %d: %.1f bytes/event (dataset part %.1f); MEMORY USAGE of the stream %d B (%.1f B/event)",
			mem.UsedMemoryBefore, mem.UsedMemoryAfter, mem.BytesPerEvent, mem.DatasetPerEvent, mem.StreamMemoryUsage,
			float64(mem.StreamMemoryUsage)/n),
	}, m, nil
}

// streamShape finds the one stream key, reads its MEMORY USAGE (every
// node sampled) and one entry's fields as an example.
func streamShape(ctx context.Context, c *redis.Client, mem *eventsMemory) error {
	keys, _, err := c.ScanType(ctx, 0, "*", 100, "stream").Result()
	if err != nil {
		return fmt.Errorf("SCAN TYPE stream: %w", err)
	}
	if len(keys) != 1 {
		return fmt.Errorf("want one stream key, found %q", keys)
	}
	if mem.StreamMemoryUsage, err = c.MemoryUsage(ctx, keys[0], 0).Result(); err != nil {
		return fmt.Errorf("MEMORY USAGE: %w", err)
	}
	xs, err := c.XRangeN(ctx, keys[0], "-", "+", 1).Result()
	if err != nil || len(xs) != 1 {
		return fmt.Errorf("XRANGE %s: %d entries, %w", keys[0], len(xs), err)
	}
	mem.Shape = map[string]string{"id": xs[0].ID}
	for k, v := range xs[0].Values {
		mem.Shape[k] = fmt.Sprint(v)
	}
	return nil
}
