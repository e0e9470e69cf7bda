package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	// Buttons adds a third phase, Notify with two rows of buttons, in the
	// same alternating slices (a keyboard's validation and storage cost).
	Buttons bool
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

func (o *acceptOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.Users, prefix+"users", 1000, "accept: users linked and notified round robin")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "accept: concurrent callers (one client connection)")
	fs.DurationVar(&o.Warmup, prefix+"warmup", 2*time.Second, "accept: warm-up of the echo and of Notify before the measured slices")
	fs.DurationVar(&o.Duration, prefix+"duration", 10*time.Second, "accept: measured time, for the echo and for Notify each")
	fs.DurationVar(&o.Slice, prefix+"slice", time.Second, "accept: echo and Notify alternate in windows this long (0: one window each)")
	fs.Int64Var(&o.MaxRequests, prefix+"max-requests", 20_000_000, "accept: cap on requests per measured slice")
	fs.IntVar(&o.Workers, prefix+"workers", 0, "accept: NOTIFIER_WORKERS (0: the service's default); 1 isolates the accept path")
	fs.DurationVar(&o.FakeLatency, prefix+"fake-latency", 0, "accept: delay every fake Bot API answer, to slow background delivery")
	fs.BoolVar(&o.Buttons, prefix+"buttons", false, "accept: also measure Notify with two rows of buttons (same slices)")
}

func (o *acceptOptions) validate() error { return o.check() }

func (o *acceptOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runAccept(ctx, *o, w)
	return err
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
	// NotifyButtons is Notify with two rows of buttons (-buttons), and
	// ButtonsRatio its rate over plain Notify's.
	NotifyButtons *loadResult `json:"notify_buttons,omitempty"`
	ButtonsRatio  float64     `json:"buttons_ratio,omitempty"`
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
	// Through the store: linking through /start would wait for each welcome
	// message at the global rate (33 s for 1000 users at 30/s).
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis, Env: env}, "accept", o.Users, false, w)
	if err != nil {
		return res, err
	}
	defer svc.Close()
	svc.fake.SetLatency(o.FakeLatency)

	echoCall, stopEcho, err := startEchoCall()
	if err != nil {
		return res, err
	}
	defer stopEcho()
	var seq atomic.Int64 // notification texts stay distinct across slices
	rc := svc.probe
	so := sliceOptions{Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration, Slice: o.Slice, MaxRequests: o.MaxRequests}
	calls := []loadCall{echoCall, notifyCall(&seq, users, svc)}
	if o.Buttons {
		calls = append(calls, notifyButtonsCall(&seq, users, svc))
	}
	phases, nSlices, err := alternate(ctx, rc, so, svc.sends, calls...)
	if err != nil {
		return res, err
	}
	if o.Buttons {
		b := phases[2].run.result()
		res.NotifyButtons = &b
	}
	echo, notify := phases[0], phases[1]
	res.Echo, res.Notify = echo.run.result(), notify.run.result()
	res.Slices = nSlices
	res.BackgroundSends = notify.counted
	res.RedisTopCommands = notify.redis.top(notify.run.calls, 6)
	res.RedisCPUPct = notify.redisCPUPct()
	res.RedisCPUPerNotify = notify.perCall(1e6*notify.redis.cpu, 1)
	res.RedisCmdsPerNotify = notify.perCall(float64(notify.redis.commands), 1)

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
	lines = append(lines, buttonsLines(&res)...)
	return res, emit(w, lines, res)
}

// buttonsLines sets res.ButtonsRatio and returns the report's lines of
// the -buttons phase (none without it).
func buttonsLines(res *acceptResult) []string {
	b := res.NotifyButtons
	if b == nil || res.Notify.RPS <= 0 {
		return nil
	}
	res.ButtonsRatio = round(b.RPS/res.Notify.RPS, 3)
	return []string{fmt.Sprintf("  Notify with two rows of buttons                           %s", fmtLoad(*b)),
		fmt.Sprintf("  Notify with buttons / plain Notify = %.1f%%", 100*res.ButtonsRatio)}
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

// startEchoCall starts the echo server and returns a load call of its
// Check over one client connection, and a function that stops both.
func startEchoCall() (loadCall, func(), error) {
	echo, err := startEcho()
	if err != nil {
		return nil, nil, err
	}
	conn, err := dial(echo.addr)
	if err != nil {
		echo.Stop()
		return nil, nil, err
	}
	hc := healthpb.NewHealthClient(conn)
	call := func(ctx context.Context, _ int64) error {
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	return call, func() { _ = conn.Close(); echo.Stop() }, nil
}

// notifyCall is a load call of Notify for users round robin, spread over
// svcs by call index; texts are numbered by seq, so runs sharing seq send
// distinct texts.
func notifyCall(seq *atomic.Int64, users []benchUser, svcs ...*service) loadCall {
	return func(ctx context.Context, i int64) error {
		n := seq.Add(1) - 1
		u := users[n%int64(len(users))]
		_, err := svcs[i%int64(len(svcs))].client.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.ID, Text: benchTextPrefix + strconv.FormatInt(n, 10)})
		return err
	}
}

// benchButtons is the keyboard of -buttons: two rows, callbacks of a
// realistic size, a URL and a copy button.
func benchButtons() []*notifierv1.ButtonRow {
	cb := func(text, data string) *notifierv1.Button {
		return &notifierv1.Button{Text: text, Action: &notifierv1.Button_Callback{Callback: data}}
	}
	return []*notifierv1.ButtonRow{
		{Buttons: []*notifierv1.Button{cb("Approve", "approve:order-000123"), cb("Snooze 1 h", "snooze:order-000123:3600")}},
		{Buttons: []*notifierv1.Button{{Text: "Open", Action: &notifierv1.Button_Url{Url: "https://example.com/orders/000123"}},
			{Text: "Copy id", Action: &notifierv1.Button_CopyText{CopyText: "order-000123"}}}},
	}
}

// notifyButtonsCall is notifyCall with benchButtons and a callback answer.
func notifyButtonsCall(seq *atomic.Int64, users []benchUser, svcs ...*service) loadCall {
	kb := benchButtons()
	return func(ctx context.Context, i int64) error {
		n := seq.Add(1) - 1
		u := users[n%int64(len(users))]
		_, err := svcs[i%int64(len(svcs))].client.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.ID,
			Text: benchTextPrefix + strconv.FormatInt(n, 10), Buttons: kb, CallbackAnswer: "Noted"})
		return err
	}
}

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
