package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestRepeatedBadStartCannotPauseTheBot is finding 5 of the Hardening issue:
// four "/start junk" from one chat used to draw four replies within a
// second, a 429 from Telegram's per-chat limit and a pause of every send.
// Replies are now queued and paced like notifications, and the same reply
// goes to a chat at most once per its interval.
func TestRepeatedBadStartCannotPauseTheBot(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fake := fakebot.NewServer()
			t.Cleanup(fake.Close)
			// A faithful per-chat limit: a second message to a chat within
			// 1 s is answered 429.
			fake.SetLimits(fakebot.Limits{Global: 30, PerChat: 1, Burst: 1, PerGroupPerMinute: 20})
			o := harnessOpts{fake: fake, env: map[string]string{"NOTIFIER_CHAT_RATE": "1", "NOTIFIER_GLOBAL_RATE": "30"}}
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			h := startHarness(t, o)
			h.link("calm", 16002)
			for range 4 {
				fake.Start(16001, "mallory", "junk!") // not a valid start parameter
			}
			r := h.notify(&notifierv1.NotifyRequest{UserId: "calm", Text: "unrelated"})
			start := time.Now()
			if n := h.waitFinal(r.GetNotificationId()); n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
				t.Fatalf("notification %v, want SENT", n)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("the unrelated notification took %s: held by a pause", el)
			}
			eventually(t, 10*time.Second, "3 replies suppressed", func() bool {
				return strings.Contains(scrapeMetrics(t, h), `tgnotify_bot_replies_total{outcome="suppressed"} 3`)
			})
			if got := fake.Messages(16001); len(got) != 1 {
				t.Fatalf("chat 16001 got %d replies, want 1", len(got))
			}
			if n := fake.Count429(); n != 0 {
				t.Fatalf("the fake answered %d × 429", n)
			}
		})
	}
}

// scrapeMetrics returns the service's /metrics page.
func scrapeMetrics(t *testing.T, h *harness) string {
	t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
