package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// The scenarios of "load at scale": read rate, replicas on one Redis, and
// one event fanned out to many users at the global limit.

// ---------------------------------------------------------------- reads

// readsOptions configure the reads scenario.
type readsOptions struct {
	Redis       redisOptions
	Users       int
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	Slice       time.Duration
	MaxRequests int64
}

func (o readsOptions) check() error {
	if o.Users < 1 || o.Concurrency < 1 || o.Duration <= 0 || o.Warmup < 0 || o.Slice < 0 {
		return errors.New("reads: want -users, -concurrency >= 1, -duration > 0, and -warmup, -slice >= 0")
	}
	return nil
}

func (o *readsOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.Users, prefix+"users", 1000, "reads: users linked (through the store) and read round robin")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "reads: concurrent callers (one client connection)")
	fs.DurationVar(&o.Warmup, prefix+"warmup", 2*time.Second, "reads: warm-up of each call before the measured slices")
	fs.DurationVar(&o.Duration, prefix+"duration", 10*time.Second, "reads: measured time for each of echo, GetLinkURL, GetStatus")
	fs.DurationVar(&o.Slice, prefix+"slice", time.Second, "reads: the three alternate in windows this long (0: one window each)")
	fs.Int64Var(&o.MaxRequests, prefix+"max-requests", 20_000_000, "reads: cap on requests per measured slice")
}

func (o *readsOptions) validate() error { return o.check() }

func (o *readsOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runReads(ctx, *o, w)
	return err
}

// readsResult is the reads scenario's JSON line.
type readsResult struct {
	header
	Config struct {
		Users       int     `json:"users"`
		Concurrency int     `json:"concurrency"`
		WarmupS     float64 `json:"warmup_s"`
		DurationS   float64 `json:"duration_s"`
		Redis       string  `json:"redis"`
		Linked      string  `json:"linked"`
	} `json:"config"`
	Slices      int        `json:"slices"`
	Echo        loadResult `json:"echo"`
	GetLinkURL  loadResult `json:"get_link_url"`
	GetStatus   loadResult `json:"get_status"`
	LinkURLEcho float64    `json:"get_link_url_over_echo"`
	StatusEcho  float64    `json:"get_status_over_echo"`
	// RedisCPUPct is redis-server's CPU use in % of one core while echo,
	// GetLinkURL and GetStatus ran.
	RedisCPUPct [3]float64 `json:"redis_cpu_pct_echo_linkurl_status"`
}

// runReads measures GetLinkURL and GetStatus over gRPC against linked
// users, o.Concurrency callers on one connection, next to the bare echo:
// after a warm-up of each, the three alternate in slices of o.Slice until
// each has run o.Duration.
func runReads(ctx context.Context, o readsOptions, w io.Writer) (readsResult, error) {
	var res readsResult
	if err := o.check(); err != nil {
		return res, err
	}
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis}, "reads", o.Users, false, w)
	if err != nil {
		return res, err
	}
	defer svc.Close()
	// Every user is linked as far as the service can tell, and has a live
	// link token (the first GetLinkURL mints it; the measured ones read it).
	for _, u := range users {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		st, err := svc.client.GetStatus(cctx, &notifierv1.GetStatusRequest{UserId: u.ID})
		if err == nil && (!st.GetLinked() || st.GetChatId() != u.Chat) {
			err = fmt.Errorf("linked %v chat %d, want chat %d", st.GetLinked(), st.GetChatId(), u.Chat)
		}
		if err == nil {
			_, err = svc.client.GetLinkURL(cctx, &notifierv1.GetLinkURLRequest{UserId: u.ID})
		}
		cancel()
		if err != nil {
			return res, fmt.Errorf("prime %s: %w", u.ID, err)
		}
	}

	echoCall, stopEcho, err := startEchoCall()
	if err != nil {
		return res, err
	}
	defer stopEcho()
	calls := []loadCall{
		echoCall,
		func(ctx context.Context, i int64) error {
			_, err := svc.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: users[i%int64(len(users))].ID})
			return err
		},
		func(ctx context.Context, i int64) error {
			_, err := svc.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: users[i%int64(len(users))].ID})
			return err
		},
	}
	rc := svc.probe
	so := sliceOptions{Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration, Slice: o.Slice, MaxRequests: o.MaxRequests}
	phases, nSlices, err := alternate(ctx, rc, so, svc.sends, calls...)
	if err != nil {
		return res, err
	}
	runs := make([]*loadRun, len(phases))
	for j, ph := range phases {
		runs[j], res.RedisCPUPct[j] = ph.run, ph.redisCPUPct()
	}
	res.Echo, res.GetLinkURL, res.GetStatus = runs[0].result(), runs[1].result(), runs[2].result()
	res.Slices = nSlices
	if res.Echo.RPS > 0 {
		res.LinkURLEcho = round(res.GetLinkURL.RPS/res.Echo.RPS, 3)
		res.StatusEcho = round(res.GetStatus.RPS/res.Echo.RPS, 3)
	}
	res.header = newHeader("reads", describeMachine(ctx, svc.redis))
	c := &res.Config
	c.Users, c.Concurrency, c.Redis = o.Users, o.Concurrency, o.Redis.persistence()
	c.WarmupS, c.DurationS = o.Warmup.Seconds(), o.Duration.Seconds()
	c.Linked = "through store.Redis on the service's redis-server; one GetLinkURL per user before measuring (mints the live token)"
	lines := []string{
		fmt.Sprintf("reads: %s", res.Machine),
		fmt.Sprintf("reads: concurrency %d, one client connection each, %d linked users round robin; %.1f s warm-up each, then %.0f s each measured in %d alternating slices; redis %s",
			c.Concurrency, c.Users, c.WarmupS, c.DurationS, res.Slices, c.Redis),
		fmt.Sprintf("  echo       (grpc.health.v1.Health/Check, bare grpc.Server) %s", fmtLoad(res.Echo)),
		fmt.Sprintf("  GetLinkURL (live token read, redis)                        %s", fmtLoad(res.GetLinkURL)),
		fmt.Sprintf("  GetStatus  (link + stats read, redis)                      %s", fmtLoad(res.GetStatus)),
		fmt.Sprintf("  GetLinkURL/echo %.1f%%, GetStatus/echo %.1f%%", 100*res.LinkURLEcho, 100*res.StatusEcho),
		fmt.Sprintf("  CPU in %% of one core (%d cores): this process echo %.0f%%, GetLinkURL %.0f%%, GetStatus %.0f%%; redis-server %.0f%%, %.0f%%, %.0f%%; other processes %.0f%%, %.0f%%, %.0f%%",
			res.Machine.CPUs, res.Echo.CPU.ProcessPct, res.GetLinkURL.CPU.ProcessPct, res.GetStatus.CPU.ProcessPct,
			res.RedisCPUPct[0], res.RedisCPUPct[1], res.RedisCPUPct[2],
			otherPct(res.Echo.CPU, res.RedisCPUPct[0]), otherPct(res.GetLinkURL.CPU, res.RedisCPUPct[1]), otherPct(res.GetStatus.CPU, res.RedisCPUPct[2])),
	}
	return res, emit(w, lines, res)
}

// ------------------------------------------------------------- replicas

// replicasOptions configure the replicas scenario.
type replicasOptions struct {
	Redis       redisOptions
	Replicas    int
	Users       int
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	MaxRequests int64
}

func (o replicasOptions) check() error {
	if o.Replicas < 2 || o.Replicas > 16 || o.Users < 1 || o.Concurrency < 1 || o.Duration <= 0 || o.Warmup < 0 {
		return errors.New("replicas: want -replicas 2-16, -users, -concurrency >= 1, -duration > 0, -warmup >= 0")
	}
	return nil
}

func (o *replicasOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.Replicas, prefix+"replicas", 3, "replicas: replicas in the second phase (the first has 1)")
	fs.IntVar(&o.Users, prefix+"users", 1000, "replicas: users linked (through the store) and notified round robin")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "replicas: concurrent callers, spread round robin over the replicas")
	fs.DurationVar(&o.Warmup, prefix+"warmup", 2*time.Second, "replicas: warm-up of each phase")
	fs.DurationVar(&o.Duration, prefix+"duration", 10*time.Second, "replicas: measured time of each phase")
	fs.Int64Var(&o.MaxRequests, prefix+"max-requests", 20_000_000, "replicas: cap on requests per phase")
}

func (o *replicasOptions) validate() error { return o.check() }

func (o *replicasOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runReplicas(ctx, *o, w)
	return err
}

// replicaPhase is Notify measured against some replicas.
type replicaPhase struct {
	Replicas        int        `json:"replicas"`
	Notify          loadResult `json:"notify"`
	RedisCPUPct     float64    `json:"redis_cpu_pct"`
	RedisCPUPerCall float64    `json:"redis_cpu_us_per_notify"`
	BackgroundSends int        `json:"background_sends"`
	OtherPct        float64    `json:"other_processes_pct"`
}

// replicasResult is the replicas scenario's JSON line.
type replicasResult struct {
	header
	Config struct {
		Users       int     `json:"users"`
		Concurrency int     `json:"concurrency"`
		WarmupS     float64 `json:"warmup_s"`
		DurationS   float64 `json:"duration_s"`
		Redis       string  `json:"redis"`
		Spread      string  `json:"spread"`
	} `json:"config"`
	One   replicaPhase `json:"one"`
	Many  replicaPhase `json:"many"`
	Ratio float64      `json:"ratio"`
}

// runReplicas measures the Notify accept rate against one service, then
// against o.Replicas services (app.New each, own ports, one
// redis-server and one fake Bot API shared), calls spread round robin
// over one client connection per replica. All run in this process on the
// same cores.
func runReplicas(ctx context.Context, o replicasOptions, w io.Writer) (replicasResult, error) {
	var res replicasResult
	if err := o.check(); err != nil {
		return res, err
	}
	first, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis}, "replicas", o.Users, false, w)
	if err != nil {
		return res, err
	}
	defer first.Close()
	rc := first.probe
	var seq atomic.Int64
	lo := loadOptions{Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration, MaxRequests: o.MaxRequests}
	measureOn := func(svcs []*service) (replicaPhase, error) {
		ph, err := measure(ctx, rc, lo, first.sends, notifyCall(&seq, users, svcs...))
		if err != nil {
			return replicaPhase{}, err
		}
		p := replicaPhase{Replicas: len(svcs), Notify: ph.run.result(), BackgroundSends: ph.counted, RedisCPUPct: ph.redisCPUPct()}
		p.RedisCPUPerCall = ph.perCall(1e6*ph.redis.cpu, 1)
		p.OtherPct = otherPct(p.Notify.CPU, p.RedisCPUPct)
		return p, nil
	}
	if res.One, err = measureOn([]*service{first}); err != nil {
		return res, err
	}
	svcs := []*service{first}
	for range o.Replicas - 1 {
		r, err := startService(ctx, serviceOptions{Redis: o.Redis, Shared: first})
		if err != nil {
			return res, fmt.Errorf("replica %d: %w", len(svcs)+1, err)
		}
		defer r.Close()
		svcs = append(svcs, r)
	}
	if res.Many, err = measureOn(svcs); err != nil {
		return res, err
	}
	if res.One.Notify.RPS > 0 {
		res.Ratio = round(res.Many.Notify.RPS/res.One.Notify.RPS, 3)
	}
	res.header = newHeader("replicas", describeMachine(ctx, first.redis))
	c := &res.Config
	c.Users, c.Concurrency, c.Redis = o.Users, o.Concurrency, o.Redis.persistence()
	c.WarmupS, c.DurationS = o.Warmup.Seconds(), o.Duration.Seconds()
	c.Spread = "request i goes to replica i mod N, one client connection per replica"
	phase := func(p replicaPhase) string {
		return fmt.Sprintf("  %d replica(s): Notify %s\n      redis-server %.0f%% of a core (%.1f µs per Notify), other processes %.0f%%, %d background sendMessage",
			p.Replicas, fmtLoad(p.Notify), p.RedisCPUPct, p.RedisCPUPerCall, p.OtherPct, p.BackgroundSends)
	}
	lines := []string{
		fmt.Sprintf("replicas: %s", res.Machine),
		fmt.Sprintf("replicas: concurrency %d, %d linked users round robin, %.1f s warm-up + %.0f s measured per phase, 1 replica then %d (app.New each, own ports, one redis-server %s and one fake Bot API shared; all in this process on the same %d cores)",
			c.Concurrency, c.Users, c.WarmupS, c.DurationS, o.Replicas, c.Redis, res.Machine.CPUs),
		phase(res.One),
		phase(res.Many),
		fmt.Sprintf("  %d replicas / 1 replica = %.3f", o.Replicas, res.Ratio),
	}
	return res, emit(w, lines, res)
}

// --------------------------------------------------------------- fanout

// fanoutOptions configure the fanout scenario.
type fanoutOptions struct {
	Redis        redisOptions
	Users        int
	Rate         float64
	Paid         bool
	Concurrency  int
	DrainTimeout time.Duration
}

func (o fanoutOptions) check() error {
	if o.Users < 1 || o.Rate < 0.1 || o.Rate > 1000 || o.Concurrency < 1 || o.DrainTimeout <= 0 {
		return errors.New("fanout: want -users, -concurrency >= 1, -rate 0.1-1000, -drain-timeout > 0")
	}
	return nil
}

func (o *fanoutOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.Users, prefix+"users", 10_000, "fanout: users linked (through the store), one notification each")
	fs.Float64Var(&o.Rate, prefix+"rate", 500, "fanout: NOTIFIER_GLOBAL_RATE and the fake's global limit (30: Telegram's free limit, 333 s for 10k)")
	fs.BoolVar(&o.Paid, prefix+"paid-broadcast", false, "fanout: NOTIFIER_PAID_BROADCAST=true (the fake then exempts sends from its global limit)")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "fanout: concurrent Notify callers")
	fs.DurationVar(&o.DrainTimeout, prefix+"drain-timeout", 2*time.Minute, "fanout: bound on waiting beyond users/rate for the last delivery")
}

func (o *fanoutOptions) validate() error { return o.check() }

func (o *fanoutOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runFanout(ctx, *o, w)
	return err
}

// fanoutTarget is the largest deviation of the span from users/rate.
const fanoutTarget = 0.05

// fanoutResult is the fanout scenario's JSON line.
type fanoutResult struct {
	header
	Config struct {
		Users         int     `json:"users"`
		Rate          float64 `json:"rate"`
		Burst         int     `json:"burst"`
		PaidBroadcast bool    `json:"paid_broadcast"`
		Workers       int     `json:"workers"`
		Concurrency   int     `json:"concurrency"`
		FakeLimits    string  `json:"fake_limits"`
		Redis         string  `json:"redis"`
	} `json:"config"`
	Submit        submitResult `json:"submit"`
	Delivered     int          `json:"delivered"`
	Duplicates    int          `json:"duplicates"`
	Lost          int          `json:"lost"`
	Count429      int          `json:"count_429"`
	IdealS        float64      `json:"ideal_s"`
	SpanS         float64      `json:"first_accept_to_last_delivered_s"`
	DeliverySpanS float64      `json:"first_to_last_delivered_s"`
	Deviation     float64      `json:"deviation"`
	Target        float64      `json:"target"`
	Pass          bool         `json:"pass"`
}

// runFanout sends one notification to each of o.Users linked users as
// fast as Notify accepts them, with the service's global limit and the
// fake's at o.Rate (1/s per chat), and measures the time from the first
// accept to the last delivery against users/rate.
func runFanout(ctx context.Context, o fanoutOptions, w io.Writer) (fanoutResult, error) {
	var res fanoutResult
	if err := o.check(); err != nil {
		return res, err
	}
	env := map[string]string{"NOTIFIER_GLOBAL_RATE": strconv.FormatFloat(o.Rate, 'f', -1, 64)}
	if o.Paid {
		env["NOTIFIER_PAID_BROADCAST"] = "true"
	}
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis, Env: env}, "fanout", o.Users, false, w)
	if err != nil {
		return res, err
	}
	defer svc.Close()
	limits := fakebot.Limits{Global: o.Rate, PerChat: 1, PerGroupPerMinute: 20}
	svc.fake.SetLimits(limits)
	base429 := svc.fake.Count429()
	rc := svc.probe
	r0, err := readRedis(ctx, rc)
	if err != nil {
		return res, err
	}
	cpu0 := snapCPU()

	res.Submit = submit(ctx, svc, users, len(users), o.Concurrency)
	fmt.Fprintf(w, "fanout: submitted %d in %.2f s (%d errors)\n", res.Submit.Accepted, res.Submit.Seconds, res.Submit.Errors)
	res.IdealS = round(float64(len(users))/o.Rate, 3)
	timeout := o.DrainTimeout + time.Duration(res.IdealS*float64(time.Second))
	waitErr := waitMessages(ctx, svc.fake, res.Submit.Accepted, timeout)
	if waitErr != nil && ctx.Err() != nil {
		return res, waitErr
	}
	// Late duplicates would show up now.
	time.Sleep(time.Second)
	cpu := cpu0.since().use()
	r1, err := readRedis(ctx, rc)
	if err != nil {
		return res, err
	}
	redisPct := math.Round(100 * (r1.cpu - r0.cpu) / time.Since(cpu0.wall).Seconds())
	res.Count429 = svc.fake.Count429() - base429
	msgs := benchMessages(svc.fake)
	res.Delivered, res.Duplicates = len(msgs), duplicates(msgs)
	res.Lost = res.Submit.Accepted - (res.Delivered - res.Duplicates)
	if len(msgs) > 0 && !res.Submit.first.IsZero() {
		first, last := msgSpan(msgs)
		start := first
		if res.Submit.first.Before(start) {
			start = res.Submit.first
		}
		res.SpanS = round(last.Sub(start).Seconds(), 3)
		res.DeliverySpanS = round(last.Sub(first).Seconds(), 3)
		res.Deviation = round((res.SpanS-res.IdealS)/res.IdealS, 4)
	}
	res.Target = fanoutTarget
	res.Pass = waitErr == nil && math.Abs(res.Deviation) <= fanoutTarget && res.Count429 == 0 &&
		res.Duplicates == 0 && res.Lost == 0 && res.Submit.Errors == 0

	res.header = newHeader("fanout", describeMachine(ctx, svc.redis))
	c := &res.Config
	c.Users, c.Rate, c.Burst, c.PaidBroadcast = o.Users, o.Rate, svc.cfg.Delivery.GlobalBurst, o.Paid
	c.Workers, c.Concurrency, c.Redis = svc.cfg.Delivery.Workers, o.Concurrency, o.Redis.persistence()
	c.FakeLimits = fmt.Sprintf("global %g/s, 1/s per chat, 20/min per group", o.Rate)
	if o.Paid {
		c.FakeLimits += " (allow_paid_broadcast sends are exempt from the fake's global limit)"
	}
	return res, emit(w, res.report(cpu, redisPct, waitErr), res)
}

// report is the fanout scenario's human-readable lines; cpu and redisPct
// are the use over submit and drain, waitErr the failed wait, if any.
func (res *fanoutResult) report(cpu cpuUse, redisPct float64, waitErr error) []string {
	c := &res.Config
	lines := []string{
		fmt.Sprintf("fanout: %s", res.Machine),
		fmt.Sprintf("fanout: one notification to each of %d linked users; NOTIFIER_GLOBAL_RATE %g (burst %d), paid broadcast %v, %d workers; fake: %s; %d Notify callers; redis %s",
			c.Users, c.Rate, c.Burst, c.PaidBroadcast, c.Workers, c.FakeLimits, c.Concurrency, c.Redis),
		fmt.Sprintf("  submitted %d in %.2f s (%.0f Notify/s, %d errors)", res.Submit.Accepted, res.Submit.Seconds, res.Submit.RPS, res.Submit.Errors),
		fmt.Sprintf("  delivered %d, duplicates %d, lost %d, 429s from the fake %d", res.Delivered, res.Duplicates, res.Lost, res.Count429),
		fmt.Sprintf("  first accept -> last delivered %.3f s vs %d/%g = %.3f s: deviation %+.2f%% (first -> last delivered %.3f s) (target within %.0f%%, 0 × 429, 0 lost, 0 duplicates): %s",
			res.SpanS, c.Users, c.Rate, res.IdealS, 100*res.Deviation, res.DeliverySpanS, 100*fanoutTarget, verdict(res.Pass)),
		fmt.Sprintf("  CPU in %% of one core over submit + drain (%d cores): this process %.0f%%, redis-server %.0f%%, other processes %.0f%%",
			res.Machine.CPUs, cpu.ProcessPct, redisPct, otherPct(cpu, redisPct)),
	}
	if waitErr != nil {
		lines = append(lines, "  "+waitErr.Error())
	}
	return lines
}
