//go:build chaos && linux

package main

// TestChaos runs three replicas of the real binary on one redis-server
// (AOF, appendfsync always) under a steady Notify load while a schedule
// injects faults: kill -9 of a replica, a Redis outage, Telegram 429s, 5xx
// and hangs. It logs one line
//
//	RELIABILITY scenario=chaos key=value ...
//
// and fails only when an accepted notification is lost or when the global
// send rate exceeds the limit. Run it with
//
//	go test -tags chaos -run TestChaos -count=1 -v ./cmd/notifier/
//
// TGNOTIFY_CHAOS_DURATION (default 20s) is the length of the load phase;
// TGNOTIFY_CHAOS_RATE (default 40, above the 30/s limit so that a backlog forms) the Notify calls per second.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

func chaosEnvDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

func chaosEnvFloat(t *testing.T, name string, def float64) float64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}

// chaosClients are the gRPC clients of the replicas; a restarted replica
// gets a fresh one (the old channel may be backing off its reconnects).
type chaosClients struct {
	mu sync.Mutex
	cs []notifierv1.NotifierServiceClient
}

func (c *chaosClients) get(i int) notifierv1.NotifierServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs[i%len(c.cs)]
}

func (c *chaosClients) set(i int, cl notifierv1.NotifierServiceClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cs[i] = cl
}

// retryable reports whether a Notify error may be retried with the same
// idempotency key against another replica: the replica or its store is
// unavailable, or the answer was lost.
func retryable(code codes.Code) bool {
	return code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Canceled || code == codes.Aborted
}

func TestChaos(t *testing.T) {
	skipShort(t)
	const (
		replicas    = 3
		workers     = 8 // NOTIFIER_WORKERS per replica
		loaders     = 6 // client goroutines
		nUsers      = 60
		prefix      = "chaos"
		globalRate  = 30.0
		globalBurst = 3 // the service's default NOTIFIER_GLOBAL_BURST
		injected429 = 3
		lease       = 3 * time.Second
	)
	duration := chaosEnvDuration(t, "TGNOTIFY_CHAOS_DURATION", 20*time.Second)
	rate := chaosEnvFloat(t, "TGNOTIFY_CHAOS_RATE", 40)

	rs := startRedis(t)
	fake := fakebot.NewServer(fakebot.WithSeed(20261124))
	t.Cleanup(fake.Close)
	t.Cleanup(func() { fake.SetHang(false) })

	procs := make([]*proc, replicas)
	clients := &chaosClients{cs: make([]notifierv1.NotifierServiceClient, replicas)}
	for i := range procs {
		env := baseEnv(t, fake, rs.URL())
		for k, v := range map[string]string{
			"NOTIFIER_WORKERS":       strconv.Itoa(workers),
			"NOTIFIER_GLOBAL_RATE":   strconv.Itoa(int(globalRate)),
			"NOTIFIER_CHAT_RATE":     "1",
			"NOTIFIER_LEASE_TIMEOUT": lease.String(),
			"TELEGRAM_SEND_TIMEOUT":  "1s",
			// Retry backoff capped at 4 s so that a notification meeting
			// several faults in a row still finishes within the test.
			"NOTIFIER_MAX_BACKOFF": "4s",
		} {
			env[k] = v
		}
		procs[i] = startProc(t, env)
		clients.set(i, dial(t, procs[i].grpcAddr))
	}
	us := makeUsers(prefix, nUsers, 7001)
	linkUsers(t, clients.get(0), fake, us)
	fake.SetLimits(fakebot.Limits{Global: globalRate, PerChat: 1})
	calls0, r0 := fake.Calls("sendMessage"), fake.Count429()

	// The load: loaders goroutines, rate Notify calls per second in all,
	// round robin over the replicas; a retryable failure is retried against
	// the next replica with the same idempotency key.
	l := newLedger()
	var (
		retries, dupAnswers, otherCodes atomic.Int64
		otherMu                         sync.Mutex
		otherSample                     []string
	)
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { close(stop) }) }
	t.Cleanup(stopLoad)
	var rr atomic.Uint64
	genDeadline := time.Now().Add(duration + 60*time.Second)
	interval := time.Duration(float64(time.Second) * loaders / rate)
	loadStart := time.Now()
	var wg sync.WaitGroup
	for w := range loaders {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				text := fmt.Sprintf("%s-%d-%05d", prefix, w, seq)
				u := us[(seq*loaders+w)%len(us)]
				replica := int(rr.Add(1))
				for attempt := 0; ; attempt++ {
					if time.Now().After(genDeadline) {
						t.Errorf("%s: not accepted by the load deadline", text)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					r, err := clients.get(replica).Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text, IdempotencyKey: text})
					cancel()
					code := status.Code(err)
					if code == codes.OK {
						if r.GetDuplicate() {
							dupAnswers.Add(1)
						}
						l.accept(text, r.GetNotificationId(), u.chat, time.Now())
						break
					}
					l.refused(code)
					if !retryable(code) {
						otherCodes.Add(1)
						otherMu.Lock()
						if len(otherSample) < 3 {
							otherSample = append(otherSample, fmt.Sprintf("%s: %v", text, err))
						}
						otherMu.Unlock()
						break
					}
					retries.Add(1)
					replica++
					if attempt%replicas == replicas-1 {
						// Every replica refused: wait a tick before the next round.
						<-tick.C
					}
				}
			}
		})
	}

	// The fault schedule, relative to the start of the load. Run on the
	// test goroutine (restarts may fail the test).
	var (
		redisDownAt time.Time
		redisOutage time.Duration
	)
	type event struct {
		at   time.Duration
		name string
		do   func()
	}
	frac := func(f float64) time.Duration { return time.Duration(f * float64(duration)) }
	events := []event{
		{frac(0.15), "kill -9 replica 1", func() { procs[1].kill() }},
		{frac(0.15) + time.Second, "restart replica 1", func() {
			procs[1].start()
			clients.set(1, dial(t, procs[1].grpcAddr))
		}},
		{frac(0.35), "redis down", func() { rs.Stop(); redisDownAt = time.Now() }},
		{frac(0.35) + 2*time.Second, "redis up", func() {
			rs.Restart()
			redisOutage = time.Since(redisDownAt)
		}},
		{frac(0.5), "telegram 429 x3", func() {
			fake.FailNext("sendMessage", injected429, http.StatusTooManyRequests, "", 1)
		}},
		{frac(0.6), "telegram 5xx 10%", func() { fake.SetErrorRate("sendMessage", 0.1, http.StatusBadGateway) }},
		{frac(0.6) + 3*time.Second, "telegram 5xx off", func() { fake.SetErrorRate("sendMessage", 0, 0) }},
		{frac(0.8), "telegram hang", func() { fake.SetHang(true) }},
		{frac(0.8) + 2*time.Second, "telegram hang off", func() { fake.SetHang(false) }},
		{duration, "stop load", stopLoad},
	}
	slices.SortStableFunc(events, func(a, b event) int { return int(a.at - b.at) })
	var schedule []string
	for _, ev := range events {
		if d := ev.at - time.Since(loadStart); d > 0 {
			timer := time.NewTimer(d)
			<-timer.C
		}
		ev.do()
		schedule = append(schedule, fmt.Sprintf("%s@%dms", strings.ReplaceAll(ev.name, " ", "_"), time.Since(loadStart).Milliseconds()))
	}
	wg.Wait()
	loadEnd := time.Now()
	t.Logf("schedule: %s", strings.Join(schedule, ","))

	// Every accepted notification must reach SENT or FAILED.
	for _, p := range procs {
		p.waitReady(10 * time.Second)
	}
	ids := l.idList()
	recs, pending := chaosFinalStates(clients.get(0), ids, 90*time.Second)
	settled := time.Now()
	sent, failed := outcomes(recs)
	msgs := fake.AllMessages()
	tl := analyze(l, msgs, prefix+"-")

	// Lost: accepted, never delivered and not FAILED.
	l.mu.Lock()
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.Text] = true
	}
	lost, sentNotDelivered, failedButDelivered := 0, 0, 0
	var lostSample []string
	for text, a := range l.byText {
		r := recs[a.id]
		isFailed := r != nil && r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED
		isSent := r != nil && r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT
		switch {
		case !seen[text] && !isFailed:
			lost++
			if len(lostSample) < 5 {
				lostSample = append(lostSample, text)
			}
		case isFailed && seen[text]:
			failedButDelivered++
		}
		if isSent && !seen[text] {
			sentNotDelivered++
		}
	}
	attempts := codeCounts(l.attempts)
	l.mu.Unlock()

	// The global send rate: the busiest 10 s window of deliveries.
	const window = 10 * time.Second
	var times []time.Time
	for _, m := range msgs {
		if strings.HasPrefix(m.Text, prefix+"-") {
			times = append(times, m.Time)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	peak := 0
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= window {
			j++
		}
		peak = max(peak, i-j+1)
	}
	peakRate := float64(peak) / window.Seconds()
	// Sends held by the injected hang reach Telegram together when it
	// ends, on slots long past, while their retries (new slots) may have
	// gone out already: at most one per worker adds to any window. Before
	// the limiter was fixed (issue 8, finding 1) the service never came
	// near the rate (peaks of 262–286 here), so the allowance was not
	// needed; now it sends at the rate and the released hang shows.
	hungRelease := replicas * workers
	maxCount := int(globalRate*1.05*window.Seconds()) + globalBurst + hungRelease
	steady := 0
	for _, tm := range times {
		if !tm.Before(loadStart) && tm.Before(loadEnd) {
			steady++
		}
	}
	steadyRate := float64(steady) / loadEnd.Sub(loadStart).Seconds()
	n429 := fake.Count429() - r0
	sends := fake.Calls("sendMessage") - calls0
	// Duplicates allowed: every worker of the killed replica had a send in
	// flight, and every worker of every replica had one cut by the Redis
	// outage (the outage may outlast the lease).
	dupBudget := workers + replicas*workers

	t.Logf("RELIABILITY scenario=chaos duration_ms=%d rate_per_s=%.0f replicas=%d workers=%d users=%d accepted=%d delivered=%d sent_state=%d failed=%s lost=%d pending=%d sent_not_delivered=%d failed_but_delivered=%d duplicates=%d dup_budget=%d unexpected=%d order_violations=%d id_conflicts=%d notify_attempts=%s retries=%d idempotent_replays=%d other_codes=%d send_calls=%d count_429=%d injected_429=%d excess_429=%d peak_10s_msgs=%d peak_10s_rate_per_s=%.1f limit_10s_msgs=%d steady_rate_per_s=%.1f max_delay_ms=%d redis_outage_ms=%d settle_after_load_ms=%d",
		duration.Milliseconds(), rate, replicas, workers, nUsers, tl.accepted, tl.delivered, sent, formatReasons(failed), lost, len(pending),
		sentNotDelivered, failedButDelivered, tl.duplicates, dupBudget, tl.unexpected, tl.orderViolations, len(tl.conflicts),
		attempts, retries.Load(), dupAnswers.Load(), otherCodes.Load(), sends, n429, injected429, n429-injected429,
		peak, peakRate, maxCount, steadyRate, tl.maxDelay.Milliseconds(), redisOutage.Milliseconds(), settled.Sub(loadEnd).Milliseconds())

	if lost > 0 {
		t.Errorf("%d accepted notifications neither delivered nor FAILED (e.g. %v)", lost, lostSample)
	}
	if tl.delivered < tl.accepted/2 {
		// Not a reliability figure: a run where most notifications FAILED
		// (e.g. all not_linked) would pass lost=0 vacuously.
		t.Errorf("only %d of %d accepted notifications delivered (failed: %s): the run measured nothing", tl.delivered, tl.accepted, formatReasons(failed))
	}
	if peak > maxCount {
		t.Errorf("busiest %v window: %d messages (%.1f/s), limit %d (%.0f/s × 1.05 + burst %d + %d hung sends released at once)",
			window, peak, peakRate, maxCount, globalRate, globalBurst, hungRelease)
	}
	// Logged, not failed (see docs/RELIABILITY.md, "Chaos suite").
	if tl.duplicates > dupBudget {
		t.Logf("NOTE: %d duplicates exceed the budget %d", tl.duplicates, dupBudget)
	}
	if len(tl.conflicts) > 0 {
		t.Logf("NOTE: a retry with the same idempotency key created a second notification: %v", tl.conflicts)
	}
	if otherCodes.Load() > 0 {
		t.Logf("NOTE: Notify answered non-retryable errors: %v", otherSample)
	}
	if n429 > injected429 {
		t.Logf("NOTE: the fake answered %d 429s beyond the %d injected", n429-injected429, injected429)
	}
}

func codeCounts(m map[codes.Code]int) string {
	out := map[string]int{}
	for c, n := range m {
		out[c.String()] = n
	}
	return formatReasons(out)
}

// chaosFinalStates polls GetNotification until every id is SENT or FAILED
// or timeout passes; it returns the final records and the ids still pending.
func chaosFinalStates(c notifierv1.NotifierServiceClient, ids []string, timeout time.Duration) (map[string]*notifierv1.GetNotificationResponse, []string) {
	out := make(map[string]*notifierv1.GetNotificationResponse, len(ids))
	pending := slices.Clone(ids)
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for len(pending) > 0 && time.Now().Before(deadline) {
		pending, _ = sweepFinal(c, pending, out)
		if len(pending) > 0 {
			<-tick.C
		}
	}
	return out, pending
}
