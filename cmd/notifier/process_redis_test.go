//go:build linux

package main

// Process fault tests around Redis outages: a restart under load and
// SIGTERM while Redis is down.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// call is one Notify call as the client saw it.
type call struct {
	start, end time.Time
	code       codes.Code
	text       string
}

// TestRedisRestartUnderLoad kills redis-server while clients keep calling
// Notify (retrying with the same idempotency key, as the API asks), checks
// that no call is answered OK while Redis is down, restarts Redis on its
// append-only file and checks that everything accepted is delivered: exactly
// once when Redis is back well within the lease of the sends in flight, at
// least once (duplicates only of those sends) when the outage outlasts it.
func TestRedisRestartUnderLoad(t *testing.T) {
	skipShort(t)
	const workers = 8
	for _, tc := range []struct {
		name string
		// hold keeps Redis down at least this long.
		hold          time.Duration
		lease         time.Duration // NOTIFIER_LEASE_TIMEOUT
		maxDuplicates int
	}{
		// The outage (about 1-2 s, plus up to 1 s for the Redis client to
		// dial again) is far shorter than the lease: every outcome is
		// recorded once Redis is back.
		{name: "short_outage", hold: 0, lease: 10 * time.Second, maxDuplicates: 0},
		// Longer than the lease: a worker that sent a message cannot record
		// it before its lease lapses, so the message is sent again after
		// Redis returns.
		{name: "outage_beyond_lease", hold: 4 * time.Second, lease: 3 * time.Second, maxDuplicates: workers},
	} {
		t.Run(tc.name, func(t *testing.T) { testRedisRestart(t, tc.name, workers, tc.hold, tc.lease, tc.maxDuplicates) })
	}
}

func testRedisRestart(t *testing.T, name string, workers int, hold, lease time.Duration, maxDuplicates int) {
	const (
		users  = 20
		prefix = "rr"
		pace   = 40 * time.Millisecond // between one user's calls
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 3001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":       strconv.Itoa(workers),
		"NOTIFIER_LEASE_TIMEOUT": lease.String(),
		"TELEGRAM_SEND_TIMEOUT":  "1s",
		"NOTIFIER_MIN_BACKOFF":   "50ms",
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	fake.SetLatency(10 * time.Millisecond)

	l := newLedger()
	var (
		callsMu   sync.Mutex
		calls     []call
		dupAnswer atomic.Int32 // retries answered duplicate: the lost answer had been accepted
	)
	// stop: finish the notification in hand, then return; abort: return
	// now (the test is over).
	stop, abort := make(chan struct{}), make(chan struct{})
	genDeadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for ui, u := range us {
		wg.Go(func() {
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("%s-%03d-%04d", prefix, ui, seq)
				for { // retry with the same key until accepted
					select {
					case <-abort:
						return
					default:
					}
					if time.Now().After(genDeadline) {
						t.Errorf("%s: not accepted by the deadline", text)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					start := time.Now()
					r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text, IdempotencyKey: text})
					end := time.Now()
					cancel()
					code := status.Code(err)
					callsMu.Lock()
					calls = append(calls, call{start: start, end: end, code: code, text: text})
					callsMu.Unlock()
					<-tick.C
					if code == codes.OK {
						if r.GetDuplicate() {
							dupAnswer.Add(1)
						}
						l.accept(text, r.GetNotificationId(), u.chat, end)
						break
					}
					l.refused(code)
				}
			}
		})
	}
	t.Cleanup(func() {
		close(abort)
		wg.Wait()
	})
	countSince := func(since time.Time, want codes.Code) int {
		callsMu.Lock()
		defer callsMu.Unlock()
		n := 0
		for _, c := range calls {
			if c.start.After(since) && c.code == want {
				n++
			}
		}
		return n
	}

	poll.Eventually(t, 10*time.Second, "load running: 100 accepted, 50 delivered", func() bool {
		return l.count() >= 100 && deliveredCount(fake, prefix+"-") >= 50
	})
	acceptedBefore := l.count()
	rs.Stop()
	downAt := time.Now()
	hc := &http.Client{Timeout: 2 * time.Second} // longer than /readyz's own 1 s store ping
	var notReadyAfter time.Duration
	poll.Eventually(t, hold+10*time.Second, "Notify refused and /readyz not 200 while Redis is down", func() bool {
		if notReadyAfter == 0 && readyz(hc, p.httpAddr) != http.StatusOK {
			notReadyAfter = time.Since(downAt)
		}
		return notReadyAfter > 0 && countSince(downAt, codes.Unavailable) >= 2*users && time.Since(downAt) >= hold
	})
	upAt := time.Now()
	rs.Restart()
	upReturned := time.Now()
	var firstOKAfter time.Duration
	poll.Eventually(t, 15*time.Second, "100 more accepted after Redis returned", func() bool {
		if firstOKAfter == 0 && countSince(upReturned, codes.OK) > 0 {
			firstOKAfter = time.Since(upReturned)
		}
		return l.count() >= acceptedBefore+100
	})
	close(stop)
	wg.Wait()
	p.waitReady(10 * time.Second)

	// No call that began after Redis died and ended before it was restarted
	// may have been answered OK; every refusal must be UNAVAILABLE.
	callsMu.Lock()
	var okWhileDown, badCodes int
	var badSample []string
	for _, c := range calls {
		if c.code == codes.OK && c.start.After(downAt) && c.end.Before(upAt) {
			okWhileDown++
		}
		if c.code != codes.OK && c.code != codes.Unavailable {
			badCodes++
			if len(badSample) < 3 {
				badSample = append(badSample, fmt.Sprintf("%s: %v", c.text, c.code))
			}
		}
	}
	totalCalls := len(calls)
	callsMu.Unlock()
	if okWhileDown > 0 {
		t.Errorf("%d Notify calls answered OK while Redis was down", okWhileDown)
	}
	if badCodes > 0 {
		t.Errorf("%d Notify calls refused with a code other than UNAVAILABLE: %v", badCodes, badSample)
	}

	total := l.count()
	poll.Eventually(t, lease+20*time.Second, "every accepted notification delivered", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	l.mu.Lock()
	unavailable := l.attempts[codes.Unavailable]
	l.mu.Unlock()
	t.Logf("RELIABILITY scenario=redis_%s accepted=%d accepted_before_outage=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d unexpected=%d order_violations=%d notify_calls=%d unavailable=%d ok_while_down=%d other_codes=%d idempotent_replays=%d outage_ms=%d lease_ms=%d not_ready_after_ms=%d first_ok_after_restart_ms=%d max_delay_ms=%d",
		name, tl.accepted, acceptedBefore, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.unexpected, tl.orderViolations,
		totalCalls, unavailable, okWhileDown, badCodes, dupAnswer.Load(), upReturned.Sub(downAt).Milliseconds(),
		lease.Milliseconds(), notReadyAfter.Milliseconds(), firstOKAfter.Milliseconds(), tl.maxDelay.Milliseconds())
	tl.check(t, maxDuplicates)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}

// TestSIGTERMDuringRedisOutage sends SIGTERM while Redis is down and every
// worker has a send in flight. The process must still exit within
// NOTIFIER_SHUTDOWN_TIMEOUT (an orchestrator SIGKILLs it soon after); the
// outcomes it could not record are resent after the restart (at-least-once:
// duplicates only of those sends).
func TestSIGTERMDuringRedisOutage(t *testing.T) {
	skipShort(t)
	const (
		users, perUser  = 10, 10
		workers         = 8
		prefix          = "sr"
		shutdownTimeout = 3 * time.Second
		leaseTimeout    = 10 * time.Second
		margin          = 2 * time.Second
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 6001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":          strconv.Itoa(workers),
		"NOTIFIER_SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"NOTIFIER_LEASE_TIMEOUT":    leaseTimeout.String(),
		"TELEGRAM_SEND_TIMEOUT":     "2s",
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	fake.SetLatency(200 * time.Millisecond)
	l := newLedger()
	notifyBurst(t, c, l, us, perUser, prefix)
	poll.Eventually(t, 10*time.Second, "a round delivered and every worker sending", func() bool {
		return deliveredCount(fake, prefix+"-") >= workers && fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
	})
	rs.Stop()
	p.signal(syscall.SIGTERM)
	termAt := time.Now()
	code, ok := p.wait(shutdownTimeout + margin)
	if !ok {
		t.Errorf("the notifier did not exit within NOTIFIER_SHUTDOWN_TIMEOUT (%v) + %v of SIGTERM while Redis was down", shutdownTimeout, margin)
		code, ok = p.wait(leaseTimeout + 5*time.Second)
		if !ok {
			t.Fatalf("the notifier did not exit within %v of SIGTERM", shutdownTimeout+margin+leaseTimeout+5*time.Second)
		}
	}
	exitAfter := time.Since(termAt)
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}

	rs.Restart()
	fake.SetLatency(0)
	p.start()
	c = dial(t, p.grpcAddr)
	total := l.count()
	poll.Eventually(t, leaseTimeout+15*time.Second, "every accepted notification delivered after the restarts", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	t.Logf("RELIABILITY scenario=sigterm_redis_down accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d exit_after_ms=%d exit_code=%d shutdown_timeout_ms=%d lease_timeout_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		exitAfter.Milliseconds(), code, shutdownTimeout.Milliseconds(), leaseTimeout.Milliseconds())
	tl.check(t, workers)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}
