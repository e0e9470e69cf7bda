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

	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// deliveryOptions configure the delivery scenario.
type deliveryOptions struct {
	Redis redisOptions
	// Unlimited and Limited select the parts to run (set from parts, the
	// -parts flag, by validate).
	Unlimited, Limited bool
	parts              string
	// Concurrency is the number of Notify callers.
	Concurrency int
	// DrainTimeout bounds the wait for the last delivery.
	DrainTimeout time.Duration

	// Users and Messages size the run with limits off; Workers sets
	// NOTIFIER_WORKERS for it (0: the service's default).
	Users, Messages, Workers int

	// LimitedUsers and LimitedMessages size the run at Telegram's limits
	// (LimitedMessages 0: enough for Lead + Window + 3 s at LimitedRate).
	LimitedUsers, LimitedMessages int
	// LimitedRate is NOTIFIER_GLOBAL_RATE and the fake's global limit.
	LimitedRate float64
	// Lead is skipped after the first delivery (the burst); Window is the
	// span the rate is measured over.
	Lead, Window time.Duration
}

// check rejects options the scenario cannot run with.
func (o deliveryOptions) check() error {
	switch {
	case o.Concurrency < 1 || o.DrainTimeout <= 0:
		return errors.New("delivery: want -concurrency >= 1 and -drain-timeout > 0")
	case o.Unlimited && (o.Users < 1 || o.Messages < 1 || o.Workers < 0):
		return errors.New("delivery: want -users, -messages >= 1 and -workers >= 0")
	case o.Limited && (o.LimitedUsers < 1 || o.LimitedMessages < 0 || o.LimitedRate < 0.1 || o.LimitedRate > 1000 || o.Lead < 0 || o.Window <= 0):
		return errors.New("delivery: want -limited-users >= 1, -limited-messages >= 0, -rate 0.1-1000, -lead >= 0, -window > 0")
	case o.Limited && float64(o.LimitedUsers) < o.LimitedRate:
		// Each private chat takes 1 message/s: fewer chats than the global
		// rate would measure the per-chat limit instead.
		return fmt.Errorf("delivery: -limited-users %d is below -rate %g: with 1 message/s per chat the global limit cannot be reached", o.LimitedUsers, o.LimitedRate)
	}
	return nil
}

func (o *deliveryOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&o.parts, prefix+"parts", "both", "delivery: unlimited, limited or both")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "delivery: concurrent Notify callers")
	fs.DurationVar(&o.DrainTimeout, prefix+"drain-timeout", 2*time.Minute, "delivery: bound on waiting for the last delivery")
	fs.IntVar(&o.Users, prefix+"users", 1000, "delivery, limits off: users (one private chat each)")
	fs.IntVar(&o.Messages, prefix+"messages", 50_000, "delivery, limits off: notifications")
	fs.IntVar(&o.Workers, prefix+"workers", 0, "delivery, limits off: NOTIFIER_WORKERS (0: the service's default)")
	fs.IntVar(&o.LimitedUsers, prefix+"limited-users", 150, "delivery, limits on: users")
	fs.IntVar(&o.LimitedMessages, prefix+"limited-messages", 0, "delivery, limits on: notifications (0: enough for lead + window + 3 s)")
	fs.Float64Var(&o.LimitedRate, prefix+"rate", 30, "delivery, limits on: NOTIFIER_GLOBAL_RATE and the fake's global limit")
	fs.DurationVar(&o.Lead, prefix+"lead", time.Second, "delivery, limits on: skipped after the first delivery")
	fs.DurationVar(&o.Window, prefix+"window", 10*time.Second, "delivery, limits on: measured window")
}

// validate turns -parts into Unlimited and Limited, then checks.
func (o *deliveryOptions) validate() error {
	switch o.parts {
	case "both", "":
		o.Unlimited, o.Limited = true, true
	case "unlimited":
		o.Unlimited = true
	case "limited":
		o.Limited = true
	default:
		return fmt.Errorf("-parts %q: want unlimited, limited or both", o.parts)
	}
	return o.check()
}

func (o *deliveryOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runDelivery(ctx, *o, w)
	return err
}

// Targets of the delivery scenario.
const (
	unlimitedTarget = 5000 // sends/s with limits off
	limitedTarget   = 0.99 // share of the global limit reached
)

// submitResult is how the notifications were handed to Notify.
type submitResult struct {
	Accepted  int              `json:"accepted"`
	Errors    int              `json:"errors"`
	ErrorCode map[string]int64 `json:"error_codes,omitempty"`
	Seconds   float64          `json:"seconds"`
	RPS       float64          `json:"rps"`
	start     time.Time
	// first is when the first successful Notify returned.
	first time.Time
}

// unlimitedResult is the part with Telegram's limits off.
type unlimitedResult struct {
	Users            int          `json:"users"`
	Messages         int          `json:"messages"`
	Workers          int          `json:"workers"`
	Concurrency      int          `json:"concurrency"`
	Submit           submitResult `json:"submit"`
	Delivered        int          `json:"delivered"`
	Duplicates       int          `json:"duplicates"`
	SentDuringSubmit int          `json:"sent_during_submit"`
	Seconds          float64      `json:"seconds_first_accepted_to_last_delivered"`
	SendsPerSec      float64      `json:"sends_per_s"`
	// CPU is the use from the first Notify to the last delivery.
	CPU         cpuUse  `json:"cpu"`
	RedisCPUPct float64 `json:"redis_cpu_pct"`
	// The drain is the time after the last Notify returned: delivery alone.
	DrainSends       int     `json:"drain_sends"`
	DrainSeconds     float64 `json:"drain_seconds"`
	DrainSendsPerSec float64 `json:"drain_sends_per_s"`
	// DrainCPUPerSend is CPU per send during the drain, this process (the
	// fake Bot API included) and redis-server, in microseconds.
	DrainCPUPerSendUs      float64        `json:"drain_cpu_us_per_send"`
	DrainRedisCPUPerSendUs float64        `json:"drain_redis_cpu_us_per_send"`
	DrainRedisTopCommands  []commandShare `json:"drain_redis_top_commands_per_send"`
	Target                 float64        `json:"target"`
	Pass                   bool           `json:"pass"`
}

// limitedResult is the part at Telegram's limits.
type limitedResult struct {
	Users       int          `json:"users"`
	Messages    int          `json:"messages"`
	Workers     int          `json:"workers"`
	Limit       float64      `json:"limit_per_s"`
	FakeLimits  string       `json:"fake_limits"`
	Submit      submitResult `json:"submit"`
	Delivered   int          `json:"delivered"`
	Duplicates  int          `json:"duplicates"`
	SpanSeconds float64      `json:"span_s"`
	SpanRate    float64      `json:"span_rate"`
	WindowFromS float64      `json:"window_from_s"`
	WindowS     float64      `json:"window_s"`
	WindowSends int          `json:"window_sends"`
	WindowRate  float64      `json:"window_rate"`
	Ratio       float64      `json:"ratio"`
	Count429    int          `json:"count_429"`
	Target      float64      `json:"target"`
	Pass        bool         `json:"pass"`
}

// deliveryResult is the delivery scenario's JSON line.
type deliveryResult struct {
	header
	Redis     string           `json:"redis"`
	Unlimited *unlimitedResult `json:"unlimited,omitempty"`
	Limited   *limitedResult   `json:"limited,omitempty"`
}

// runDelivery measures the whole path Notify → queue → workers →
// sendMessage against the fake Bot API, with limits off and at Telegram's
// limits, each on a fresh service and redis-server.
func runDelivery(ctx context.Context, o deliveryOptions, w io.Writer) (deliveryResult, error) {
	var res deliveryResult
	if err := o.check(); err != nil {
		return res, err
	}
	res.Redis = o.Redis.persistence()
	var m machine
	var lines []string
	if o.Unlimited {
		u, mm, l, err := runUnlimited(ctx, o, w)
		if err != nil {
			return res, fmt.Errorf("limits off: %w", err)
		}
		res.Unlimited, m, lines = u, mm, append(lines, l...)
	}
	if o.Limited {
		r, mm, l, err := runLimited(ctx, o, w)
		if err != nil {
			return res, fmt.Errorf("limits on: %w", err)
		}
		res.Limited, m, lines = r, mm, append(lines, l...)
	}
	res.header = newHeader("delivery", m)
	lines = append([]string{"delivery: " + m.String()}, lines...)
	return res, emit(w, lines, res)
}

func runUnlimited(ctx context.Context, o deliveryOptions, w io.Writer) (*unlimitedResult, machine, []string, error) {
	env := map[string]string{
		"NOTIFIER_CHAT_RATE":             "0",
		"NOTIFIER_GROUP_RATE_PER_MINUTE": "0",
		"NOTIFIER_GLOBAL_RATE":           "1000",
		"NOTIFIER_GLOBAL_BURST":          "1000",
	}
	if o.Workers > 0 {
		env["NOTIFIER_WORKERS"] = strconv.Itoa(o.Workers)
	}
	// The environment caps NOTIFIER_GLOBAL_RATE at 1000/s, below what is
	// measured here; the limiter still runs on every send, just never waits.
	tweak := func(c *config.Config) { c.Delivery.GlobalRate = 1e6 }
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis, Env: env, Tweak: tweak}, "delivery: limits off", o.Users, true, w)
	if err != nil {
		return nil, machine{}, nil, err
	}
	defer svc.Close()

	r := &unlimitedResult{Users: o.Users, Messages: o.Messages, Workers: svc.cfg.Delivery.Workers, Concurrency: o.Concurrency, Target: unlimitedTarget}
	rc := svc.probe
	r0, err := readRedis(ctx, rc)
	if err != nil {
		return nil, machine{}, nil, err
	}
	cpu0 := snapCPU()
	base := svc.sends()
	r.Submit = submit(ctx, svc, users, o.Messages, o.Concurrency)
	r.SentDuringSubmit = svc.sends() - base
	cpuMid := snapCPU()
	rMid, err := readRedis(ctx, rc)
	if err != nil {
		return nil, machine{}, nil, err
	}
	if err := waitSent(ctx, svc.fake, base, r.Submit.Accepted, o.DrainTimeout); err != nil {
		return nil, machine{}, nil, err
	}
	// A call is counted when it arrives, its message a moment later.
	if err := waitMessages(ctx, svc.fake, r.Submit.Accepted, o.DrainTimeout); err != nil {
		return nil, machine{}, nil, err
	}
	r.CPU = cpu0.since().use()
	drainCPU := cpuMid.since()
	r1, err := readRedis(ctx, rc)
	if err != nil {
		return nil, machine{}, nil, err
	}
	r.RedisCPUPct = math.Round(100 * (r1.cpu - r0.cpu) / time.Since(cpu0.wall).Seconds())
	msgs := benchMessages(svc.fake)
	r.Delivered, r.Duplicates = len(msgs), duplicates(msgs)
	var last time.Time
	for _, m := range msgs {
		if m.Time.After(last) {
			last = m.Time
		}
	}
	r.Seconds = round(last.Sub(r.Submit.start).Seconds(), 3)
	r.DrainSends = r.Delivered - r.SentDuringSubmit
	if d := last.Sub(cpuMid.wall); d > 0 && r.DrainSends > 0 {
		r.DrainSeconds = round(d.Seconds(), 3)
		r.DrainSendsPerSec = round(float64(r.DrainSends)/d.Seconds(), 1)
		r.DrainCPUPerSendUs = round(float64(drainCPU.proc.Microseconds())/float64(r.DrainSends), 1)
		r.DrainRedisCPUPerSendUs = round(1e6*(r1.cpu-rMid.cpu)/float64(r.DrainSends), 1)
		r.DrainRedisTopCommands = r1.since(rMid).top(int64(r.DrainSends), 8)
	}
	if r.Seconds > 0 {
		r.SendsPerSec = round(float64(r.Delivered)/r.Seconds, 1)
	}
	r.Pass = r.SendsPerSec >= unlimitedTarget && r.Delivered == r.Messages && r.Submit.Errors == 0
	return r, describeMachine(ctx, svc.redis), r.report(), nil
}

// report is the limits-off part's human-readable lines.
func (r *unlimitedResult) report() []string {
	lines := []string{
		fmt.Sprintf("delivery: limits off (NOTIFIER_CHAT_RATE 0, global rate 1e6/s set in code, fake without limits), %d workers, %d users, %d Notify callers",
			r.Workers, r.Users, r.Concurrency),
		fmt.Sprintf("  submitted %d in %.2f s (%.0f Notify/s, %d errors), %d already sent by then",
			r.Submit.Accepted, r.Submit.Seconds, r.Submit.RPS, r.Submit.Errors, r.SentDuringSubmit),
		fmt.Sprintf("  delivered %d (%d duplicates); first accepted -> last delivered %.2f s: %.0f sends/s (target >= %d): %s",
			r.Delivered, r.Duplicates, r.Seconds, r.SendsPerSec, unlimitedTarget, verdict(r.Pass)),
		fmt.Sprintf("  CPU in %% of one core over the run: this process (service, fake, callers) %.0f%%, redis-server %.0f%%, other processes %.0f%%",
			r.CPU.ProcessPct, r.RedisCPUPct, otherPct(r.CPU, r.RedisCPUPct)),
		fmt.Sprintf("  drain (after the last Notify returned, delivery alone): %d sends in %.2f s = %.0f sends/s; CPU per send %.1f µs this process (fake included) + %.1f µs redis-server",
			r.DrainSends, r.DrainSeconds, r.DrainSendsPerSec, r.DrainCPUPerSendUs, r.DrainRedisCPUPerSendUs),
		fmt.Sprintf("  redis-server time per send in the drain (scripts' inner commands included): %s", fmtCommands(r.DrainRedisTopCommands)),
	}
	return lines
}

func runLimited(ctx context.Context, o deliveryOptions, w io.Writer) (*limitedResult, machine, []string, error) {
	rate := o.LimitedRate
	env := map[string]string{"NOTIFIER_GLOBAL_RATE": strconv.FormatFloat(rate, 'f', -1, 64)}
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis, Env: env}, "delivery: limits on", o.LimitedUsers, true, w)
	if err != nil {
		return nil, machine{}, nil, err
	}
	defer svc.Close()

	// Telegram's limits, from now on (the welcome messages went out before).
	limits := fakebot.Limits{Global: rate, PerChat: 1, PerGroupPerMinute: 20}
	svc.fake.SetLimits(limits)
	n := o.LimitedMessages
	if n <= 0 {
		n = int(math.Ceil(rate * (o.Lead + o.Window + 3*time.Second).Seconds()))
	}
	r := &limitedResult{
		Users: o.LimitedUsers, Messages: n, Workers: svc.cfg.Delivery.Workers, Limit: rate, Target: limitedTarget,
		FakeLimits: fmt.Sprintf("global %g/s, 1/s per chat, 20/min per group", rate),
	}
	base429 := svc.fake.Count429()
	r.Submit = submit(ctx, svc, users, n, o.Concurrency)
	timeout := o.DrainTimeout + time.Duration(float64(n)/rate*float64(time.Second))
	// Count messages the fake recorded, not calls: a call is counted when it
	// arrives, before its message is recorded.
	err = waitMessages(ctx, svc.fake, r.Submit.Accepted, timeout)
	if err != nil {
		return nil, machine{}, nil, err
	}
	r.Count429 = svc.fake.Count429() - base429
	msgs := benchMessages(svc.fake)
	r.Delivered, r.Duplicates = len(msgs), duplicates(msgs)
	if len(msgs) >= 2 {
		first, last := msgSpan(msgs)
		r.SpanSeconds = round(last.Sub(first).Seconds(), 3)
		if r.SpanSeconds > 0 {
			r.SpanRate = round(float64(len(msgs)-1)/last.Sub(first).Seconds(), 2)
		}
		from, to := first.Add(o.Lead), first.Add(o.Lead+o.Window)
		if !last.Before(to) {
			for _, m := range msgs {
				if !m.Time.Before(from) && m.Time.Before(to) {
					r.WindowSends++
				}
			}
			r.WindowFromS, r.WindowS = o.Lead.Seconds(), o.Window.Seconds()
			r.WindowRate = round(float64(r.WindowSends)/o.Window.Seconds(), 2)
			r.Ratio = round(r.WindowRate/rate, 4)
		}
	}
	r.Pass = r.Ratio >= limitedTarget && r.Count429 == 0 && r.Delivered == n
	window := fmt.Sprintf("%d sends in [first+%.0fs, first+%.0fs) = %.2f/s = %.1f%% of %g/s",
		r.WindowSends, o.Lead.Seconds(), (o.Lead + o.Window).Seconds(), r.WindowRate, 100*r.Ratio, rate)
	if r.WindowS == 0 {
		window = fmt.Sprintf("deliveries spanned %.2f s, shorter than lead + window %.0f s: no window rate", r.SpanSeconds, (o.Lead + o.Window).Seconds())
	}
	lines := []string{
		fmt.Sprintf("delivery: limits on (NOTIFIER_GLOBAL_RATE %g, default burst %d and 1 s per chat; fake: %s), %d workers, %d users, %d messages",
			rate, svc.cfg.Delivery.GlobalBurst, r.FakeLimits, r.Workers, r.Users, n),
		fmt.Sprintf("  submitted %d in %.2f s (%d errors); delivered %d (%d duplicates) over %.2f s: %.2f/s first to last",
			r.Submit.Accepted, r.Submit.Seconds, r.Submit.Errors, r.Delivered, r.Duplicates, r.SpanSeconds, r.SpanRate),
		fmt.Sprintf("  %s; 429s from the fake: %d (target >= %.0f%%, 0 429s): %s", window, r.Count429, 100*limitedTarget, verdict(r.Pass)),
	}
	return r, describeMachine(ctx, svc.redis), lines, nil
}

// submit calls Notify n times from conc callers, for users round robin.
func submit(ctx context.Context, svc *service, users []benchUser, n, conc int) submitResult {
	var seq atomic.Int64
	start := time.Now()
	run := runLoad(ctx, loadOptions{Concurrency: conc, Duration: submitBound, MaxRequests: int64(n)}, notifyCall(&seq, users, svc))
	d := time.Since(start)
	res := submitResult{Accepted: len(run.lat), Errors: int(run.nerrs), start: start, first: run.first}
	res.Seconds = round(d.Seconds(), 3)
	res.RPS = round(float64(res.Accepted)/d.Seconds(), 1)
	if len(run.errs) > 0 {
		res.ErrorCode = run.errs
	}
	return res
}

// submitBound is the time bound of submit's load run: none in practice
// (the count and ctx bound it).
const submitBound = 100 * 365 * 24 * time.Hour

// waitSent polls the fake until want sendMessage calls arrived after base.
func waitSent(ctx context.Context, f *fakebot.Server, base, want int, timeout time.Duration) error {
	return poll.Until(ctx, timeout, fmt.Sprintf("%d deliveries", want), func() (bool, error) {
		return f.Calls("sendMessage")-base >= want, nil
	})
}

// waitMessages polls the fake until it recorded want benchmark messages.
func waitMessages(ctx context.Context, f *fakebot.Server, want int, timeout time.Duration) error {
	return poll.Until(ctx, timeout, fmt.Sprintf("%d messages recorded", want), func() (bool, error) {
		return len(benchMessages(f)) >= want, nil
	})
}

// duplicates counts messages whose text was delivered before.
func duplicates(msgs []fakebot.SentMessage) int {
	seen := make(map[string]bool, len(msgs))
	d := 0
	for _, m := range msgs {
		if seen[m.Text] {
			d++
		}
		seen[m.Text] = true
	}
	return d
}

// msgSpan returns the times of the first and the last of msgs (not empty).
func msgSpan(msgs []fakebot.SentMessage) (first, last time.Time) {
	first, last = msgs[0].Time, msgs[0].Time
	for _, m := range msgs {
		if m.Time.Before(first) {
			first = m.Time
		}
		if m.Time.After(last) {
			last = m.Time
		}
	}
	return first, last
}
