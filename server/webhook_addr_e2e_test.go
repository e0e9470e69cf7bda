package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestWebhookOnItsOwnListener: with NOTIFIER_WEBHOOK_ADDR the webhook (and
// /healthz) is served there and only there, the API is not, and the main
// listener no longer takes webhook deliveries (issue 8, finding 6), so the
// webhook listener can be public while the API listeners stay private.
func TestWebhookOnItsOwnListener(t *testing.T) {
	t.Parallel()
	wa := freeAddr(t)
	h := startHarness(t, harnessOpts{webhook: true, env: map[string]string{
		"NOTIFIER_WEBHOOK_ADDR": wa,
		"TELEGRAM_WEBHOOK_URL":  "http://" + wa + "/telegram/webhook",
	}})
	// The fake Bot API delivers /start to the webhook address: linking works.
	h.link("wanda", 8801)

	do := func(method, url, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", h.secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	webhookBase := "http://" + wa
	cases := []struct {
		name        string
		method, url string
		body        string
		want        int
	}{
		{"webhook on the webhook listener", "POST", webhookBase + "/telegram/webhook", `{"update_id":880001,"poll":{"id":"1"}}`, http.StatusOK},
		{"healthz on the webhook listener", "GET", webhookBase + "/healthz", "", http.StatusOK},
		{"REST status not on the webhook listener", "GET", webhookBase + "/v1/users/wanda/status", "", http.StatusNotFound},
		{"REST notify not on the webhook listener", "POST", webhookBase + "/v1/users/wanda/notifications", `{"text":"x"}`, http.StatusNotFound},
		{"REST link token not on the webhook listener", "POST", webhookBase + "/v1/users/wanda/link-token", `{}`, http.StatusNotFound},
		{"metrics not on the webhook listener", "GET", webhookBase + "/metrics", "", http.StatusNotFound},
		{"openapi not on the webhook listener", "GET", webhookBase + "/openapi.json", "", http.StatusNotFound},
		{"readyz not on the webhook listener", "GET", webhookBase + "/readyz", "", http.StatusNotFound},
		{"webhook not on the main listener", "POST", h.base + "/telegram/webhook", `{"update_id":880002,"poll":{"id":"1"}}`, http.StatusNotFound},
		{"REST still on the main listener", "GET", h.base + "/v1/users/wanda/status", "", http.StatusOK},
	}
	for _, c := range cases {
		if got := do(c.method, c.url, c.body); got != c.want {
			t.Errorf("%s: %s %s = %d, want %d", c.name, c.method, c.url, got, c.want)
		}
	}
}
