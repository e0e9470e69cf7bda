//go:build linux

package main

// Process fault test against a Bot API with Telegram's limits and faults.

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestTelegramFaultsUnderLoad sends 300 notifications to 100 chats through
// a Bot API that enforces Telegram's limits, answers 502 to a fifth of the
// sends at random and 429 once: each is delivered exactly once or FAILED
// with a reason, and the service's own limits keep Telegram from answering
// 429 beyond the injected one.
func TestTelegramFaultsUnderLoad(t *testing.T) {
	skipShort(t)
	const (
		users, perUser = 100, 3
		prefix         = "tf"
	)
	w := startWorld(t, fakebot.NewServer(fakebot.WithSeed(20260101)), prefix, users, 4001, map[string]string{
		// Telegram's limits: the defaults, spelled out.
		"NOTIFIER_GLOBAL_RATE":  "30",
		"NOTIFIER_CHAT_RATE":    "1",
		"TELEGRAM_SEND_TIMEOUT": "2s",
		// Retry backoff 1 s doubling to 4 s (default cap 5 min), so that the
		// rare notification meeting five or six 502s in a row still finishes
		// within the test's time.
		"NOTIFIER_MAX_BACKOFF": "4s",
	})
	fake, c, us := w.fake, w.c, w.us

	fake.SetLimits(fakebot.Limits{Global: 30, PerChat: 1})
	fake.SetErrorRate("sendMessage", 0.2, http.StatusBadGateway)
	fake.FailNext("sendMessage", 1, http.StatusTooManyRequests, "", 1)
	calls0, r0 := fake.Calls("sendMessage"), fake.Count429()

	l := newLedger()
	start := time.Now()
	notifyBurst(t, c, l, us, perUser, prefix)
	total := l.count()
	recs := finalStates(t, c, l.idList(), 40*time.Second)
	elapsed := time.Since(start)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	msgs := fake.AllMessages()
	tl := analyze(l, msgs, prefix+"-")
	sends := fake.Calls("sendMessage") - calls0
	n429 := fake.Count429() - r0
	errors5xx := sends - (tl.delivered + tl.duplicates) - n429

	// The busiest second at the fake, and the closest two messages to one
	// chat.
	var times []time.Time
	lastPerChat := map[int64]time.Time{}
	minGap := time.Duration(-1)
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, prefix+"-") {
			continue
		}
		times = append(times, m.Time)
		if prev, ok := lastPerChat[m.ChatID]; ok && (minGap < 0 || m.Time.Sub(prev) < minGap) {
			minGap = m.Time.Sub(prev)
		}
		lastPerChat[m.ChatID] = m.Time
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// Goodput over the bulk of the run: the first 95% of deliveries (the
	// tail is a few notifications waiting out retry backoff).
	var rate95 float64
	if n := len(times) * 95 / 100; n > 1 {
		rate95 = float64(n-1) / times[n-1].Sub(times[0]).Seconds()
	}
	sendRate := float64(sends) / tl.lastAt.Sub(start).Seconds()
	peak := 0
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	var attempts, maxAttempts int
	for _, r := range recs {
		attempts += int(r.GetAttempts())
		maxAttempts = max(maxAttempts, int(r.GetAttempts()))
	}
	t.Logf("RELIABILITY scenario=telegram_faults accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d send_calls=%d errors_5xx=%d count_429=%d recorded_attempts=%d max_attempts_one=%d peak_per_1s=%d min_chat_gap_ms=%d delivered_rate_p95_per_s=%.1f delivered_rate_all_per_s=%.1f send_calls_per_s=%.1f elapsed_ms=%d max_delay_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		sends, errors5xx, n429, attempts, maxAttempts, peak, minGap.Milliseconds(), rate95, tl.rate(), sendRate, elapsed.Milliseconds(), tl.maxDelay.Milliseconds())

	// Every notification is SENT and delivered once, or FAILED with a
	// reason and never delivered.
	for id, r := range recs {
		if r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED && r.GetFailureReason() == "" {
			t.Errorf("notification %s FAILED without a reason (last error %q)", id, r.GetLastError())
		}
	}
	failedTotal := 0
	for _, n := range failed {
		failedTotal += n
	}
	if tl.delivered != sent || sent+failedTotal != total {
		t.Errorf("delivered %d, SENT %d, FAILED %d, accepted %d", tl.delivered, sent, failedTotal, total)
	}
	tl.lost -= failedTotal // a FAILED notification is accounted for, not lost
	tl.check(t, 0)
	if n429 < 1 {
		t.Errorf("the injected 429 was not answered (%d 429s)", n429)
	}
	if n429 > 1 {
		t.Errorf("Telegram answered %d 429s, want only the injected one: the service exceeded a limit", n429)
	}
}
