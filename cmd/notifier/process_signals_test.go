//go:build linux

package main

// Process fault tests around signals: SIGKILL mid-burst and SIGTERM drains.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestKill9MidBurst SIGKILLs the process while it is sending a burst, starts
// it again on the same Redis and checks that nothing accepted is lost, that
// only sends in flight at the crash are duplicated and that per-chat order
// holds.
func TestKill9MidBurst(t *testing.T) {
	skipShort(t)
	const (
		users, perUser = 50, 20
		workers        = 8
		prefix         = "k9"
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 1001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":       strconv.Itoa(workers),
		"NOTIFIER_LEASE_TIMEOUT": "3s",
		"TELEGRAM_SEND_TIMEOUT":  "1s",
		"NOTIFIER_MIN_BACKOFF":   "50ms",
	})
	fake, p, c, us := w.fake, w.p, w.c, w.us

	fake.SetLatency(20 * time.Millisecond)
	l := newLedger()
	burstStart := time.Now()
	notifyBurst(t, c, l, us, perUser, prefix)
	burst := time.Since(burstStart)
	total := l.count()

	// Kill mid-delivery, once a quarter is out, at a moment when every
	// worker has a send in flight at Telegram (the worst case: each of
	// those may reach the chat without the service knowing).
	poll.Eventually(t, 20*time.Second, "a quarter of the burst delivered and every worker sending", func() bool {
		return deliveredCount(fake, prefix+"-") >= total/4 && fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
	})
	inFlight := fake.Calls("sendMessage") - len(fake.AllMessages())
	p.kill()
	killedAt := time.Now()
	atKill := deliveredCount(fake, prefix+"-")
	if atKill >= total {
		t.Fatalf("the whole burst was delivered before the kill; raise the fake's latency")
	}

	p.start()
	restartedAt := time.Now()
	c = dial(t, p.grpcAddr) // the old channel may be backing off its reconnects
	poll.Eventually(t, 30*time.Second, "every accepted notification delivered after the restart", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	// Update intake after the crash: the dead process's poller lease has
	// to lapse before the new one polls, so a new link waits for it.
	linkUsers(t, c, fake, makeUsers(prefix+"-late", 1, 1999))
	linkAfter := time.Since(restartedAt)
	t.Logf("RELIABILITY scenario=kill9 accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d unexpected=%d order_violations=%d delivered_at_kill=%d inflight_at_kill=%d workers=%d burst_accept_ms=%d restart_ready_ms=%d max_delay_ms=%d rate_incl_crash_per_s=%.1f link_works_after_restart_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.unexpected, tl.orderViolations,
		atKill, inFlight, workers, burst.Milliseconds(), restartedAt.Sub(killedAt).Milliseconds(), tl.maxDelay.Milliseconds(), tl.rate(),
		linkAfter.Milliseconds())
	tl.check(t, workers)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}

// TestSIGTERMDrains sends SIGTERM while sends are in flight: readiness goes
// at once, new calls are refused, the process exits 0 within the shutdown
// timeout, and a restart delivers the rest exactly once. In-flight sends
// either finish within the drain (slow Telegram) or, when Telegram hangs
// past the drain deadline, are cut and handed back unsent.
func TestSIGTERMDrains(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name string
		// hang makes every send hang (past the drain deadline) from just
		// before SIGTERM; otherwise sends take latency.
		hang    bool
		latency time.Duration
	}{
		{name: "inflight_finish", latency: 300 * time.Millisecond},
		{name: "inflight_cut", hang: true},
	} {
		t.Run(tc.name, func(t *testing.T) { testSIGTERMDrains(t, tc.name, tc.hang, tc.latency) })
	}
}

func testSIGTERMDrains(t *testing.T, name string, hang bool, latency time.Duration) {
	const (
		users, perUser  = 20, 10
		workers         = 8
		prefix          = "st"
		shutdownTimeout = 3 * time.Second // drain: 2/3 of it
		sendTimeout     = 5 * time.Second // longer than the drain: a hung send is cut by it
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 2001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":          strconv.Itoa(workers),
		"NOTIFIER_SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"TELEGRAM_SEND_TIMEOUT":     sendTimeout.String(),
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	t.Cleanup(func() { fake.SetHang(false) })

	fake.SetLatency(latency)
	if hang {
		fake.SetLatency(20 * time.Millisecond)
	}
	l := newLedger()
	notifyBurst(t, c, l, us, perUser, prefix)
	total := l.count()
	poll.Eventually(t, 10*time.Second, "two rounds of sends delivered, the next in flight", func() bool {
		return deliveredCount(fake, prefix+"-") >= 2*workers && (hang || fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers)
	})
	if hang {
		fake.SetHang(true)
		poll.Eventually(t, 5*time.Second, "every worker's send hanging", func() bool {
			return fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
		})
	}
	callsAtTerm := fake.Calls("sendMessage")
	inFlightAtTerm := callsAtTerm - len(fake.AllMessages())
	p.signal(syscall.SIGTERM)
	termAt := time.Now()

	// Readiness goes first.
	hc := &http.Client{Timeout: 2 * time.Second} // longer than /readyz's own 1 s store ping
	poll.Eventually(t, 2*time.Second, "/readyz no longer 200 after SIGTERM", func() bool {
		return readyz(hc, p.httpAddr) != http.StatusOK
	})
	notReadyAfter := time.Since(termAt)

	// Notify calls after SIGTERM: answered OK only while the gRPC server
	// still finishes its graceful stop (those are durable and must be
	// delivered), then refused with UNAVAILABLE; nothing else.
	late, lateOK := 0, 0
	var refusedAfter time.Duration
	poll.Eventually(t, shutdownTimeout, "Notify refused after SIGTERM", func() bool {
		u := us[late%len(us)]
		text := fmt.Sprintf("%s-late-%04d", prefix, late)
		late++
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text})
		cancel()
		switch status.Code(err) {
		case codes.OK:
			lateOK++
			l.accept(text, r.GetNotificationId(), u.chat, time.Now())
			return false
		case codes.Unavailable:
			refusedAfter = time.Since(termAt)
			return true
		default:
			t.Fatalf("Notify after SIGTERM: %v, want UNAVAILABLE", err)
			return false
		}
	})

	code, ok := p.wait(shutdownTimeout + 3*time.Second)
	exitAfter := time.Since(termAt)
	if !ok {
		t.Fatalf("the notifier did not exit within %v of SIGTERM", shutdownTimeout+3*time.Second)
	}
	if code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	deliveredAtExit := deliveredCount(fake, prefix+"-")
	drainedSends := fake.Calls("sendMessage") - callsAtTerm

	// A fresh client after the exit: connection refused → UNAVAILABLE.
	{
		c2 := dial(t, p.grpcAddr)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c2.Notify(ctx, &notifierv1.NotifyRequest{UserId: us[0].id, Text: prefix + "-after-exit"})
		cancel()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("Notify after exit: %v, want UNAVAILABLE", err)
		}
	}
	// A graceful stop hands every lease back (the documented tgn:lease
	// set): the next start need not wait for a lease to expire.
	rc := rs.Client(t)
	ctx, cancel := rpcCtx()
	leased, err := rc.ZCard(ctx, "tgn:lease").Result()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if leased != 0 {
		t.Errorf("%d chats still leased after a graceful stop", leased)
	}
	if tl := analyze(l, fake.AllMessages(), prefix+"-"); tl.duplicates > 0 {
		t.Errorf("%d duplicates before the restart", tl.duplicates)
	}

	fake.SetHang(false)
	fake.SetLatency(20 * time.Millisecond)
	restartAt := time.Now()
	p.start()
	c = dial(t, p.grpcAddr) // the old channel may be backing off its reconnects
	all := l.count()
	var resumeAfter time.Duration
	poll.Eventually(t, 20*time.Second, "every accepted notification delivered after the restart", func() bool {
		n := deliveredCount(fake, prefix+"-")
		if resumeAfter == 0 && n > deliveredAtExit {
			resumeAfter = time.Since(restartAt)
		}
		return n >= all
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	t.Logf("RELIABILITY scenario=sigterm_%s accepted=%d accepted_after_sigterm=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d inflight_at_sigterm=%d delivered_at_exit=%d sends_started_after_sigterm=%d not_ready_after_ms=%d refused_after_ms=%d exit_after_ms=%d exit_code=%d leased_after_exit=%d first_delivery_after_restart_ms=%d",
		name, tl.accepted, lateOK, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		inFlightAtTerm, deliveredAtExit, drainedSends, notReadyAfter.Milliseconds(), refusedAfter.Milliseconds(),
		exitAfter.Milliseconds(), code, leased, resumeAfter.Milliseconds())
	tl.check(t, 0)
	if total+lateOK != tl.accepted {
		t.Errorf("ledger: %d + %d accepted, tally %d", total, lateOK, tl.accepted)
	}
	if sent != tl.accepted {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, tl.accepted, formatReasons(failed))
	}
	if notReadyAfter > time.Second {
		t.Errorf("/readyz still 200 %v after SIGTERM", notReadyAfter)
	}
}
