package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// readyz returns /readyz's status code and reason.
func readyz(t testing.TB, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var body struct{ Reason string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Reason
}

// TestRevokedTokenTurnsReadinessOff: while Telegram answers 401 (the token
// was revoked), polling and sends pause, readiness is NOT_SERVING with a
// reason naming TELEGRAM_BOT_TOKEN, the failures are counted, and nothing
// is failed; once the token works again, everything resumes by itself.
// Before finding 2 of issue 8 was fixed, the poller stopped for good at the
// first 401 (no /start was ever handled again until a restart), readiness
// stayed SERVING, and the notification failed "rejected".
func TestRevokedTokenTurnsReadinessOff(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	h.link("ann", 5151)
	h.fake.SetTokenRevoked(true)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "ann", Text: "while revoked"})
	var reason string
	eventually(t, 10*time.Second, "/readyz 503 naming TELEGRAM_BOT_TOKEN", func() bool {
		var code int
		code, reason = readyz(t, h.base)
		return code == http.StatusServiceUnavailable && strings.Contains(reason, "TELEGRAM_BOT_TOKEN")
	})
	if strings.Contains(reason, h.fake.Token()) {
		t.Fatalf("readiness reason %q holds the token", reason)
	}
	hc := healthpb.NewHealthClient(h.conn)
	eventually(t, 10*time.Second, "grpc health NOT_SERVING", func() bool {
		res, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{})
		return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	for _, want := range []string{
		`tgnotify_telegram_auth_failures_total{method="getUpdates"}`,
		`tgnotify_telegram_auth_failures_total{method="sendMessage"}`,
	} {
		eventually(t, 10*time.Second, "/metrics shows "+want, func() bool {
			resp, err := http.Get(h.base + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(b), want)
		})
	}
	n, err := h.client.GetNotification(ctxT(t), &notifierv1.GetNotificationRequest{NotificationId: r.GetNotificationId()})
	if err != nil || n.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED {
		t.Fatalf("while revoked: %v, %v; want it still queued", n, err)
	}

	h.fake.SetTokenRevoked(false)
	h.waitReady()
	if got := h.waitFinal(r.GetNotificationId()); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("after the token works again: %v, want SENT", got)
	}
	h.link("ben", 5252) // the poller handles /start again
}

// TestStartWithRevokedTokenIsNotReady: a token Telegram rejects at start
// keeps the service NOT_SERVING with a reason naming TELEGRAM_BOT_TOKEN,
// and it turns ready by itself once the token is accepted.
func TestStartWithRevokedTokenIsNotReady(t *testing.T) {
	t.Parallel()
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	fake.SetTokenRevoked(true)
	app, _ := runApp(t, map[string]string{
		"NOTIFIER_GRPC_ADDR": "127.0.0.1:0",
		"NOTIFIER_HTTP_ADDR": freeAddr(t),
		"TELEGRAM_BOT_TOKEN": fake.Token(),
		"TELEGRAM_API_URL":   fake.URL(),
		// The open API is beside the point here.
		"NOTIFIER_ALLOW_OPEN_API": "true",
	})
	base := "http://" + app.HTTPAddr()
	eventually(t, 10*time.Second, "/readyz 503 naming TELEGRAM_BOT_TOKEN", func() bool {
		code, reason := readyz(t, base)
		return code == http.StatusServiceUnavailable && strings.Contains(reason, "TELEGRAM_BOT_TOKEN") &&
			strings.Contains(reason, "401")
	})
	fake.SetTokenRevoked(false)
	eventually(t, 10*time.Second, "ready once the token is accepted", func() bool {
		code, _ := readyz(t, base)
		return code == http.StatusOK
	})
}
