package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// postWebhook delivers a raw update to the service as Telegram would.
func (h *harness) postWebhook(secret, body string) int {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+"/telegram/webhook", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func startUpdate(updateID, chatID int64, text string) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"date":1700000000,"chat":{"id":%d,"type":"private","username":"u%d"},"from":{"id":%d,"is_bot":false,"first_name":"U","username":"u%d"},"text":%q}}`,
		updateID, chatID, chatID, chatID, chatID, text)
}

func TestWebhookSecurityAndDedup(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{webhook: true})
	ctx := ctxT(t)
	const chat = int64(7001)
	tok, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	body := startUpdate(900001, chat, "/start "+tok.GetToken())
	// The chat exists at Telegram once the user has written to the bot.
	h.fake.SendText(chat, "u7001", "hi")

	// Without or with a wrong secret: 401 and nothing happens.
	for _, secret := range []string{"", "wrong", h.secret + "x"} {
		if code := h.postWebhook(secret, body); code != http.StatusUnauthorized {
			t.Fatalf("secret %q: code %d, want 401", secret, code)
		}
	}
	if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "carol"}); st.GetLinked() {
		t.Fatal("linked by an update without the right secret")
	}

	// Bad bodies are client errors, not 5xx (Telegram would retry them forever).
	for name, bad := range map[string]string{
		"not json":  "hello",
		"truncated": body[:len(body)/2],
		"no id":     `{"message":{"text":"/start x"}}`,
	} {
		if code := h.postWebhook(h.secret, bad); code < 400 || code >= 500 {
			t.Errorf("%s: code %d, want 4xx", name, code)
		}
	}
	if code := h.postWebhook(h.secret, `{"update_id":1,"pad":"`+strings.Repeat("x", 2<<20)+`"}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: code %d, want 413", code)
	}
	// Unknown update kinds and odd fields are acknowledged and ignored.
	if code := h.postWebhook(h.secret, `{"update_id":900002,"poll":{"id":"1"},"future_field":[1,2,3]}`); code != http.StatusOK {
		t.Errorf("unknown update kind: code %d, want 200", code)
	}

	// The same update delivered twice (concurrently) links once, welcomes once.
	codes := make(chan int, 5)
	for range 5 {
		go func() { codes <- h.postWebhook(h.secret, body) }()
	}
	ok := 0
	for range 5 {
		if c := <-codes; c == http.StatusOK {
			ok++
		} else if c != http.StatusInternalServerError && c != http.StatusServiceUnavailable {
			t.Fatalf("duplicate delivery answered %d", c)
		}
	}
	if ok == 0 {
		t.Fatal("no delivery succeeded")
	}
	// A late redelivery after processing is acknowledged without effect.
	if code := h.postWebhook(h.secret, body); code != http.StatusOK {
		t.Fatalf("redelivery: %d", code)
	}
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "carol"})
	if err != nil || !st.GetLinked() || st.GetChatId() != chat {
		t.Fatalf("status %v %v", st, err)
	}
	if n := len(h.fake.Messages(chat)); n != 1 {
		t.Fatalf("%d messages to the chat, want exactly one welcome", n)
	}

	// Blocking the bot (my_chat_member kicked) unlinks.
	blocked := fmt.Sprintf(`{"update_id":900003,"my_chat_member":{"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"U"},"date":1700000001,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"B"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"B"},"until_date":0}}}`, chat, chat)
	if code := h.postWebhook(h.secret, blocked); code != http.StatusOK {
		t.Fatalf("my_chat_member: %d", code)
	}
	if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "carol"}); st.GetLinked() {
		t.Fatal("still linked after the user blocked the bot")
	}
}

func TestWebhookStoreDownAnswers5xx(t *testing.T) {
	t.Parallel()
	rs := redistest.StartWith(t, redistest.Options{AOF: true})
	h := startHarness(t, harnessOpts{webhook: true, redisURL: rs.URL()})
	ctx := ctxT(t)
	h.fake.SendText(8001, "u8001", "hi")
	tok, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	body := startUpdate(910001, 8001, "/start "+tok.GetToken())
	rs.Stop()
	if code := h.postWebhook(h.secret, body); code < 500 {
		t.Fatalf("store down: code %d, want 5xx so Telegram redelivers", code)
	}
	rs.Restart()
	// Telegram's redelivery now links the user.
	eventually(t, 10*time.Second, "redelivery accepted", func() bool { return h.postWebhook(h.secret, body) == http.StatusOK })
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "dave"})
	if err != nil || !st.GetLinked() {
		t.Fatalf("status after redelivery %v %v", st, err)
	}
}

func TestPollingRestartNeitherReplaysNorSkips(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	h := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: fake})
	h.link("erin", 9001)
	h.shutdown()

	// While the service is down the user relinks with a new token... which
	// the next instance must process exactly once; the old /start is not
	// replayed (it would answer "expired").
	h2 := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: fake})
	ctx := ctxT(t)
	tok, err := h2.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	h2.shutdown()
	fake.Start(9002, "erin2", tok.GetToken())
	h3 := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: fake})
	if _, err := fake.WaitForMessages(ctx, 9002, 1); err != nil {
		t.Fatal(err)
	}
	st, err := h3.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "erin"})
	if err != nil || st.GetChatId() != 9002 {
		t.Fatalf("status %v %v: want relinked to 9002", st, err)
	}
	if n := len(fake.Messages(9001)); n != 1 {
		t.Fatalf("chat 9001 got %d messages: the first /start was replayed", n)
	}
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	code, tok := h.rest("POST", "/v1/users/frank/link-token", map[string]any{})
	if code != http.StatusOK {
		t.Fatalf("link-token %d %v", code, tok)
	}
	code, out := h.rest("POST", "/sandbox/start", map[string]any{"chat_id": 77, "token": tok["token"], "username": "frank"})
	if code != http.StatusOK {
		t.Fatalf("sandbox start %d %v", code, out)
	}
	reply, _ := out["reply"].(map[string]any)
	if !strings.Contains(fmt.Sprint(reply["text"]), "all set") {
		t.Fatalf("sandbox reply %v", out)
	}
	code, st := h.rest("GET", "/v1/users/frank/status", nil)
	if code != http.StatusOK || st["linked"] != true || st["chat_id"] != "77" {
		t.Fatalf("status %d %v", code, st)
	}
	code, _ = h.rest("POST", "/v1/users/frank/notifications", map[string]any{"text": "hello from the sandbox"})
	if code != http.StatusOK {
		t.Fatalf("notify %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.fake.WaitForMessages(ctx, 77, 2); err != nil {
		t.Fatal(err)
	}
	code, msgs := h.rest("GET", "/sandbox/chats/77/messages", nil)
	if code != http.StatusOK || !strings.Contains(fmt.Sprint(msgs["messages"]), "hello from the sandbox") {
		t.Fatalf("messages %d %v", code, msgs)
	}
	for name, body := range map[string]string{"garbage": "x", "no chat": `{"token":"abc"}`, "unknown field": `{"chat_id":1,"tokn":"a"}`} {
		if code, _ := h.rest("POST", "/sandbox/start", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
}

func TestRESTValidation(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	long := strings.Repeat("x", 129)
	cases := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"user_id too long", "POST", "/v1/users/" + long + "/link-token", map[string]any{}, 400},
		{"unknown field", "POST", "/v1/users/u/notifications", `{"txt":"a"}`, 400},
		{"not json", "POST", "/v1/users/u/notifications", `garbage`, 400},
		{"empty text", "POST", "/v1/users/u/notifications", map[string]any{"text": "  "}, 400},
		{"bad parse_mode", "POST", "/v1/users/u/notifications", map[string]any{"text": "a", "parse_mode": "NOPE"}, 400},
		{"numeric bad parse_mode", "POST", "/v1/users/u/notifications", map[string]any{"text": "a", "parse_mode": 9}, 400},
		{"not linked", "POST", "/v1/users/u/notifications", map[string]any{"text": "a"}, 400},
		{"too long text", "POST", "/v1/users/u/notifications", map[string]any{"text": strings.Repeat("a", 70000)}, 400},
		{"control char in user", "GET", "/v1/users/a%01b/status", nil, 400},
		{"unknown route", "GET", "/v1/nope", nil, 404},
		{"huge body", "POST", "/v1/users/u/notifications", `{"text":"` + strings.Repeat("a", 1<<20) + `"}`, 400},
		{"status of unknown user", "GET", "/v1/users/nobody/status", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, body := h.rest(c.method, c.path, c.body); code != c.want {
				t.Fatalf("%s %s = %d %v, want %d", c.method, c.path, code, body, c.want)
			}
		})
	}
}

func TestTwoPollingReplicasShareOneLease(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	a := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: fake})
	b := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: fake})
	for i := range 4 {
		h := a
		if i%2 == 1 {
			h = b
		}
		h.link(fmt.Sprintf("r%d", i), int64(6100+i))
	}
	// Whichever replica polled, stopping one hands polling to the other
	// (at once after a graceful stop: the lease is released).
	a.shutdown()
	for i := 4; i < 8; i++ {
		b.link(fmt.Sprintf("r%d", i), int64(6100+i))
	}
	for i := range 8 {
		if n := len(fake.Messages(int64(6100 + i))); n != 1 {
			t.Fatalf("chat %d got %d messages, want one welcome", 6100+i, n)
		}
	}
}

// TestRESTUserIDEscapes checks that a user id travels through the REST
// path escaped as one segment and reaches the service unescaped: the token
// minted over REST is the one gRPC sees for the same id.
func TestRESTUserIDEscapes(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	for _, user := range []string{"org/42", "a/b/c", "/", "a b", "café", "a:b", "a?b#c", "50%", "a%2Fb", "x+y"} {
		t.Run(user, func(t *testing.T) {
			code, body := h.rest("POST", "/v1/users/"+url.PathEscape(user)+"/link-token", map[string]any{})
			if code != http.StatusOK {
				t.Fatalf("REST link-token for %q = %d %v", user, code, body)
			}
			got, err := h.client.GetLinkURL(ctxT(t), &notifierv1.GetLinkURLRequest{UserId: user})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetToken() != body["token"] {
				t.Fatalf("gRPC token for %q = %q, REST minted %v: not the same user", user, got.GetToken(), body["token"])
			}
			if code, st := h.rest("GET", "/v1/users/"+url.PathEscape(user)+"/status", nil); code != http.StatusOK || st["linked"] != false {
				t.Fatalf("REST status for %q = %d %v", user, code, st)
			}
		})
	}
}
