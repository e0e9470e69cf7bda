package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// acceptOptions configure the accept scenario.
type acceptOptions struct {
	Redis       redisOptions
	Users       int
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	MaxRequests int64
	// Workers sets NOTIFIER_WORKERS (0: the service's default). Fewer
	// workers leave more CPU to the accept path.
	Workers int
	// FakeLatency slows every Bot API answer of the fake, so background
	// delivery does less work while Notify is measured.
	FakeLatency time.Duration
	// Slice is the length of the alternating echo and Notify windows that
	// add up to Duration each (0 or >= Duration: one window each).
	Slice time.Duration
}

// sliceWarmup starts every slice, uncounted, so that each measured window
// sees all callers busy.
const sliceWarmup = 100 * time.Millisecond

// check rejects options the scenario cannot run with.
func (o acceptOptions) check() error {
	if o.Users < 1 || o.Concurrency < 1 || o.Duration <= 0 || o.Warmup < 0 || o.Workers < 0 || o.FakeLatency < 0 || o.Slice < 0 {
		return errors.New("accept: want -users, -concurrency >= 1, -duration > 0, and -warmup, -workers, -fake-latency, -slice >= 0")
	}
	return nil
}

// acceptTarget is the Notify accept rate wanted, as a share of the bare
// gRPC echo rate measured in the same run.
const acceptTarget = 0.5

// acceptResult is the accept scenario's JSON line.
type acceptResult struct {
	header
	Config struct {
		Users       int     `json:"users"`
		Concurrency int     `json:"concurrency"`
		WarmupS     float64 `json:"warmup_s"`
		DurationS   float64 `json:"duration_s"`
		Workers     int     `json:"workers"`
		GlobalRate  float64 `json:"global_rate"`
		FakeLatency string  `json:"fake_latency"`
		Redis       string  `json:"redis"`
		Echo        string  `json:"echo"`
	} `json:"config"`
	// Slices is the number of alternating echo/Notify windows.
	Slices int        `json:"slices"`
	Echo   loadResult `json:"echo"`
	Notify loadResult `json:"notify"`
	// BackgroundSends are the sendMessage calls the delivery workers made
	// while Notify was measured (warm-up included).
	BackgroundSends int `json:"background_sends"`
	// RedisCPUPct is redis-server's CPU use while Notify was measured
	// (warm-up included), in % of one core; RedisCmdsPerNotify is the
	// commands it processed per Notify call, background work included.
	RedisCPUPct        float64        `json:"redis_cpu_pct"`
	RedisCPUPerNotify  float64        `json:"redis_cpu_us_per_notify"`
	RedisCmdsPerNotify float64        `json:"redis_commands_per_notify"`
	RedisTopCommands   []commandShare `json:"redis_top_commands_per_notify"`
	Ratio              float64        `json:"ratio"`
	// CostRatio is echo CPU per call / Notify CPU per call (derived).
	CostRatio float64 `json:"cpu_cost_ratio"`
	Target    float64 `json:"target"`
	Pass      bool    `json:"pass"`
}

// runAccept measures the Notify accept rate over gRPC against a bare
// grpc-go unary server in the same process (the standard health service's
// Check on a grpc.Server with nothing else registered), each with
// o.Concurrency callers on one client connection, Notify for distinct
// users round robin. After a warm-up of each, echo and Notify alternate in
// slices of o.Slice until each has run o.Duration, so that load from other
// processes on the machine falls on both alike.
func runAccept(ctx context.Context, o acceptOptions, w io.Writer) (acceptResult, error) {
	var res acceptResult
	if err := o.check(); err != nil {
		return res, err
	}
	env := map[string]string{}
	if o.Workers > 0 {
		env["NOTIFIER_WORKERS"] = strconv.Itoa(o.Workers)
	}
	svc, err := startService(ctx, serviceOptions{Redis: o.Redis, Env: env})
	if err != nil {
		return res, err
	}
	defer svc.Close()
	svc.fake.SetLatency(o.FakeLatency)
	// Through the store: linking through /start would wait for each welcome
	// message at the global rate (33 s for 1000 users at 30/s).
	users, err := svc.linkedUsers(ctx, "accept", o.Users, w)
	if err != nil {
		return res, err
	}

	echo, err := startEcho()
	if err != nil {
		return res, err
	}
	defer echo.Stop()
	econn, err := dial(echo.addr)
	if err != nil {
		return res, err
	}
	defer econn.Close()
	hc := healthpb.NewHealthClient(econn)
	echoCall := func(ctx context.Context, _ int64) error {
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	var seq atomic.Int64 // notification texts stay distinct across slices
	notifyCall := func(ctx context.Context, _ int64) error {
		i := seq.Add(1) - 1
		u := users[i%int64(len(users))]
		_, err := svc.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.ID, Text: benchTextPrefix + strconv.FormatInt(i, 10)})
		return err
	}
	rc := redisClient(svc.redis, 1)
	defer rc.Close()

	// Warm both up, then alternate slices of echo and Notify so that both
	// see the same background load on the machine.
	warm := loadOptions{Concurrency: o.Concurrency, Duration: o.Warmup, MaxRequests: o.MaxRequests}
	runLoad(ctx, warm, echoCall)
	runLoad(ctx, warm, notifyCall)
	slice := o.Slice
	if slice <= 0 || slice > o.Duration {
		slice = o.Duration
	}
	nSlices := int(math.Ceil(float64(o.Duration) / float64(slice)))
	echoRun, notifyRun := &loadRun{}, &loadRun{}
	var redisCPU float64
	var redisCmds int64
	var notifyWall time.Duration
	cmdsBefore, cmdsAfter := map[string]cmdStat{}, map[string]cmdStat{}
	for k := range nSlices {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := min(slice, o.Duration-time.Duration(k)*slice)
		lo := loadOptions{Concurrency: o.Concurrency, Warmup: sliceWarmup, Duration: d, MaxRequests: o.MaxRequests}
		echoRun.add(runLoad(ctx, lo, echoCall))

		sends := svc.fake.Calls("sendMessage")
		ru0, err := readRedisUsage(ctx, rc)
		if err != nil {
			return res, err
		}
		cs0, err := readCommandStats(ctx, rc)
		if err != nil {
			return res, err
		}
		t := time.Now()
		notifyRun.add(runLoad(ctx, lo, notifyCall))
		notifyWall += time.Since(t)
		res.BackgroundSends += svc.fake.Calls("sendMessage") - sends
		ru1, err := readRedisUsage(ctx, rc)
		if err != nil {
			return res, err
		}
		cs1, err := readCommandStats(ctx, rc)
		if err != nil {
			return res, err
		}
		redisCPU += ru1.cpu - ru0.cpu
		redisCmds += ru1.commands - ru0.commands
		for name, v := range cs1 {
			b, a := cmdsBefore[name], cmdsAfter[name]
			b.calls, b.usec = b.calls+cs0[name].calls, b.usec+cs0[name].usec
			a.calls, a.usec = a.calls+v.calls, a.usec+v.usec
			cmdsBefore[name], cmdsAfter[name] = b, a
		}
	}
	res.Echo, res.Notify = echoRun.result(), notifyRun.result()
	res.Slices = nSlices
	res.RedisTopCommands = topCommands(cmdsBefore, cmdsAfter, notifyRun.calls, 6)
	res.RedisCPUPct = math.Round(100 * redisCPU / notifyWall.Seconds())
	if notifyRun.calls > 0 {
		res.RedisCPUPerNotify = round(1e6*redisCPU/float64(notifyRun.calls), 1)
		res.RedisCmdsPerNotify = round(float64(redisCmds)/float64(notifyRun.calls), 1)
	}

	res.header = newHeader("accept", describeMachine(ctx, svc.redis))
	c := &res.Config
	c.Users, c.Concurrency, c.Workers, c.GlobalRate = o.Users, o.Concurrency, svc.cfg.Delivery.Workers, svc.cfg.Delivery.GlobalRate
	c.WarmupS, c.DurationS = o.Warmup.Seconds(), o.Duration.Seconds()
	c.FakeLatency, c.Redis = o.FakeLatency.String(), o.Redis.persistence()
	c.Echo = "grpc.health.v1.Health/Check on a bare grpc.Server, same process, same client settings"
	if res.Echo.RPS > 0 {
		res.Ratio = round(res.Notify.RPS/res.Echo.RPS, 3)
	}
	res.Target = acceptTarget
	res.CostRatio = costRatio(res)
	res.Pass = res.Ratio >= acceptTarget && res.Notify.Errors == 0
	lines := []string{
		fmt.Sprintf("accept: %s", res.Machine),
		fmt.Sprintf("accept: concurrency %d, one client connection each, %d users round robin; %.1f s warm-up each, then %.0f s each measured in %d alternating slices; redis %s",
			c.Concurrency, c.Users, c.WarmupS, c.DurationS, res.Slices, c.Redis),
		fmt.Sprintf("  echo   (grpc.health.v1.Health/Check, bare grpc.Server) %s", fmtLoad(res.Echo)),
		fmt.Sprintf("  Notify (notifier.v1.NotifierService/Notify, redis)     %s", fmtLoad(res.Notify)),
		fmt.Sprintf("  Notify/echo = %.1f%% (target >= %.0f%%): %s", 100*res.Ratio, 100*acceptTarget, verdict(res.Pass)),
		fmt.Sprintf("  meanwhile %d delivery workers (global rate %g/s, fake latency %s) made %d sendMessage calls",
			c.Workers, c.GlobalRate, c.FakeLatency, res.BackgroundSends),
		fmt.Sprintf("  CPU in %% of one core (%d cores): echo phase: this process %.0f%%, other processes %.0f%%; Notify phase: this process %.0f%%, redis-server %.0f%% (%.1f commands per Notify), other processes %.0f%%",
			res.Machine.CPUs, res.Echo.CPU.ProcessPct, otherPct(res.Echo.CPU, 0),
			res.Notify.CPU.ProcessPct, res.RedisCPUPct, res.RedisCmdsPerNotify, otherPct(res.Notify.CPU, res.RedisCPUPct)),
		fmt.Sprintf("  CPU per call: echo %.1f µs (this process: client and server); Notify %.1f µs (this process: client, service, workers) + %.1f µs redis-server; echo/Notify cost ratio %.3f",
			res.Echo.CPUPerCallUs, res.Notify.CPUPerCallUs, res.RedisCPUPerNotify, res.CostRatio),
		fmt.Sprintf("  redis-server time per Notify (scripts' inner commands included, background work too): %s", fmtCommands(res.RedisTopCommands)),
	}
	return res, emit(w, lines, res)
}

// echoServer is a bare grpc-go server whose only service is the standard
// health service, used as a unary echo.
type echoServer struct {
	srv  *grpc.Server
	addr string
}

// startEcho serves grpc.health.v1.Health (status SERVING) on 127.0.0.1:0.
func startEcho() (*echoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(ln) }()
	return &echoServer{srv: srv, addr: ln.Addr().String()}, nil
}

// Stop stops the echo server at once.
func (e *echoServer) Stop() { e.srv.Stop() }

// costRatio is the echo's CPU per call over Notify's (process and
// redis-server): the accept ratio a machine whose CPU is the only limit
// would give. It is derived from the measured costs, not measured itself.
func costRatio(r acceptResult) float64 {
	n := r.Notify.CPUPerCallUs + r.RedisCPUPerNotify
	if n <= 0 {
		return 0
	}
	return round(r.Echo.CPUPerCallUs/n, 3)
}
