package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/updates"
)

// Bot b of the multi-bot tests: a second token on the default bot's fake
// Bot API server.
const (
	botB       = "b"
	botBToken  = "987654:BBsecondBotTokenForTests_0123"
	botBSecret = "bSecret_Of-Bot-B"
)

// botsOpts shape a two-bot service: "default" from TELEGRAM_BOT_TOKEN and
// "b" from NOTIFIER_BOTS_FILE, both on one fake server.
type botsOpts struct {
	redisURL string
	webhook  bool
	bLine    string // extra YAML fields of bot b ("key: value, ...")
	env      map[string]string
}

// startBots starts the two-bot service and returns it with bot b's fake.
func startBots(t *testing.T, o botsOpts) (*harness, *fakebot.Server) {
	t.Helper()
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	fakeB := fake.AddBot(fakebot.WithToken(botBToken), fakebot.WithBotUsername("second_test_bot"), fakebot.WithBotID(987654))
	httpAddr := freeAddr(t)
	line := fmt.Sprintf("id: %s, token: %q", botB, botBToken)
	if o.webhook {
		line += fmt.Sprintf(", webhook_url: 'http://%s/telegram/webhook/%s', webhook_secret: %s", httpAddr, botB, botBSecret)
	}
	if o.bLine != "" {
		line += ", " + o.bLine
	}
	file := filepath.Join(t.TempDir(), "bots.yaml")
	if err := os.WriteFile(file, []byte("bots:\n  - {"+line+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NOTIFIER_BOTS_FILE": file, "NOTIFIER_HTTP_ADDR": httpAddr}
	if o.webhook {
		env["TELEGRAM_WEBHOOK_URL"] = "http://" + httpAddr + "/telegram/webhook"
	}
	for k, v := range o.env {
		env[k] = v
	}
	return startHarness(t, harnessOpts{fake: fake, redisURL: o.redisURL, webhook: o.webhook, env: env}), fakeB
}

// onBothBackendsBots runs test against a two-bot service on memory and Redis.
func onBothBackendsBots(t *testing.T, o botsOpts, test func(t *testing.T, h *harness, fakeB *fakebot.Server)) {
	t.Helper()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			o := o
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			h, fakeB := startBots(t, o)
			test(t, h, fakeB)
		})
	}
}

// linkOn links user to chatID on bot (fake is that bot's fake).
func (h *harness) linkOn(ctx context.Context, bot string, fake *fakebot.Server, user string, chatID int64) {
	h.t.Helper()
	resp, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: user, Bot: bot})
	if err != nil {
		h.t.Fatalf("CreateLinkToken(bot %q): %v", bot, err)
	}
	if bot == botB && !strings.HasPrefix(resp.GetUrl(), "https://t.me/second_test_bot?start=") {
		h.t.Fatalf("bot b's deep link %q, want bot b's username", resp.GetUrl())
	}
	before := len(fake.Messages(chatID))
	fake.Start(chatID, user, resp.GetToken())
	msgs, err := fake.WaitForMessages(ctx, chatID, before+1)
	if err != nil || msgs[len(msgs)-1].Text != updates.DefaultWelcomeMessage {
		h.t.Fatalf("no welcome on bot %q for %s: %v", bot, user, err)
	}
}

// TestBotsSameUserDifferentChats: one user id linked to different chats
// of two bots; links, notifications, statuses and events are per bot;
// notification ids are global; an unknown bot is NOT_FOUND naming it.
func TestBotsSameUserDifferentChats(t *testing.T) {
	t.Parallel()
	onBothBackendsBots(t, botsOpts{}, func(t *testing.T, h *harness, fakeB *fakebot.Server) {
		ctx := ctxT(t)
		h.linkOn(ctx, "", h.fake, "alice", 100)
		h.linkOn(ctx, botB, fakeB, "alice", 200)

		onA := h.notify(&notifierv1.NotifyRequest{UserId: "alice", Text: "from default"})
		onB := h.notify(&notifierv1.NotifyRequest{UserId: "alice", Text: "from b", Bot: botB})
		for _, id := range []string{onA.GetNotificationId(), onB.GetNotificationId()} {
			if got := h.waitFinal(id); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
				t.Fatalf("notification %s: %v, want SENT", id, got)
			}
		}
		if got := h.waitFinal(onB.GetNotificationId()); got.GetChatId() != 200 {
			t.Fatalf("bot b's notification went to chat %d, want 200", got.GetChatId())
		}
		if last := h.fake.Messages(100); last[len(last)-1].Text != "from default" {
			t.Errorf("default's chat 100 got %q", last[len(last)-1].Text)
		}
		if last := fakeB.Messages(200); last[len(last)-1].Text != "from b" {
			t.Errorf("bot b's chat 200 got %q", last[len(last)-1].Text)
		}
		if n := len(h.fake.Messages(200)) + len(fakeB.Messages(100)); n != 0 {
			t.Errorf("%d messages crossed bots", n)
		}
		for bot, chat := range map[string]int64{"": 100, "default": 100, botB: 200} {
			st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice", Bot: bot})
			if err != nil || !st.GetLinked() || st.GetChatId() != chat || st.GetDelivery().GetSent() != 1 {
				t.Errorf("GetStatus(bot %q) = %v, %v; want linked to %d with 1 sent", bot, st, err, chat)
			}
		}
		// bob is linked to no bot; unlinking alice from b leaves her default link.
		if _, err := h.client.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: "alice", Bot: botB}); err != nil {
			t.Fatal(err)
		}
		_, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "x", Bot: botB})
		wantCode(t, err, codes.FailedPrecondition)
		if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"}); !st.GetLinked() {
			t.Error("unlinking from bot b unlinked the default bot")
		}
		evs, err := h.client.ListEvents(ctx, &notifierv1.ListEventsRequest{Bot: botB, UserId: "alice"})
		if err != nil || len(evs.GetEvents()) == 0 {
			t.Fatalf("ListEvents(bot b) = %v, %v", evs, err)
		}
		for _, ev := range evs.GetEvents() {
			if ev.GetBot() != botB || (ev.GetChatId() != 0 && ev.GetChatId() != 200) {
				t.Errorf("bot b's event %v: want bot b, chat 200", ev)
			}
		}
		testUnknownBot(t, h)
	})
}

// testUnknownBot: a bot the deployment does not run is NOT_FOUND naming
// it, over gRPC and REST, and nothing changes.
func testUnknownBot(t *testing.T, h *harness) {
	ctx := ctxT(t)
	_, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "x", Bot: "nosuchbot"})
	wantCode(t, err, codes.NotFound)
	if !strings.Contains(status.Convert(err).Message(), `"nosuchbot"`) {
		t.Errorf("NOT_FOUND %q does not name the bot", status.Convert(err).Message())
	}
	_, err = h.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "alice", Bot: strings.Repeat("x", 1000)})
	wantCode(t, err, codes.InvalidArgument)
	code, body := h.rest("GET", "/v1/users/alice/status?bot=nosuchbot", nil)
	if code != http.StatusNotFound || !strings.Contains(fmt.Sprint(body["message"]), "nosuchbot") {
		t.Errorf("REST ?bot=nosuchbot: %d %v, want 404 naming it", code, body)
	}
	code, body = h.rest("POST", "/v1/users/alice/notifications", map[string]any{"text": "x", "bot": "nosuchbot"})
	if code != http.StatusNotFound {
		t.Errorf("REST body bot nosuchbot: %d %v, want 404", code, body)
	}
	code, body = h.rest("DELETE", "/v1/users/alice/link?bot=nosuchbot", nil)
	if code != http.StatusNotFound {
		t.Errorf("REST DELETE ?bot=nosuchbot: %d %v, want 404", code, body)
	}
	code, body = h.rest("GET", "/v1/users/alice/status?bot="+botB, nil)
	if code != http.StatusOK {
		t.Errorf("REST ?bot=b: %d %v", code, body)
	}
}

// TestBots429PausesOnlyItsBot: bot b's 429 (retry after 30 s) pauses bot
// b only; the default bot keeps sending meanwhile.
func TestBots429PausesOnlyItsBot(t *testing.T) {
	t.Parallel()
	onBothBackendsBots(t, botsOpts{}, func(t *testing.T, h *harness, fakeB *fakebot.Server) {
		ctx := ctxT(t)
		h.linkOn(ctx, "", h.fake, "carol", 300)
		h.linkOn(ctx, botB, fakeB, "carol", 400)
		fakeB.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 30", 30)
		onB := h.notify(&notifierv1.NotifyRequest{UserId: "carol", Text: "b, paused", Bot: botB})
		eventually(t, 10*time.Second, "bot b answered 429", func() bool { return fakeB.Count429() == 1 })
		for i := range 3 {
			r := h.notify(&notifierv1.NotifyRequest{UserId: "carol", Text: fmt.Sprintf("default %d", i)})
			if got := h.waitFinal(r.GetNotificationId()); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
				t.Fatalf("default bot during bot b's pause: %v, want SENT", got)
			}
		}
		n, err := h.client.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: onB.GetNotificationId()})
		if err != nil || n.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
			t.Fatalf("bot b's notification %v, %v: want it still paused", n, err)
		}
		if h.fake.Count429() != 0 {
			t.Fatalf("the default bot got %d 429s", h.fake.Count429())
		}
	})
}

// TestBotsKeyLimitedToOneBot: a key listing bots: [b] may use bot b only:
// PERMISSION_DENIED on the default bot, and on a notification of it.
func TestBotsKeyLimitedToOneBot(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	body := fmt.Sprintf("keys:\n  - {name: only-b, sha256: %q, scopes: [link, notify], bots: [b]}\n  - {name: all, sha256: %q, scopes: [link, notify]}\n",
		sha("only-b-key"), sha("all-key"))
	if err := os.WriteFile(keys, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	h, fakeB := startBots(t, botsOpts{env: map[string]string{"NOTIFIER_API_KEYS_FILE": keys}})
	onlyB := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer only-b-key")
	all := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer all-key")
	h.linkOn(all, "", h.fake, "dave", 500)
	h.linkOn(onlyB, botB, fakeB, "dave", 600)

	_, err := h.client.Notify(onlyB, &notifierv1.NotifyRequest{UserId: "dave", Text: "x"})
	wantCode(t, err, codes.PermissionDenied)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "only-b") || !strings.Contains(msg, `"default"`) {
		t.Errorf("PERMISSION_DENIED %q should name the key and the bot", msg)
	}
	_, err = h.client.GetStatus(onlyB, &notifierv1.GetStatusRequest{UserId: "dave", Bot: "default"})
	wantCode(t, err, codes.PermissionDenied)
	onDefault, err := h.client.Notify(all, &notifierv1.NotifyRequest{UserId: "dave", Text: "by all"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetNotification(onlyB, &notifierv1.GetNotificationRequest{NotificationId: onDefault.GetNotificationId()})
	wantCode(t, err, codes.PermissionDenied)
	onB, err := h.client.Notify(onlyB, &notifierv1.NotifyRequest{UserId: "dave", Text: "by only-b", Bot: botB})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.GetNotification(onlyB, &notifierv1.GetNotificationRequest{NotificationId: onB.GetNotificationId()}); err != nil {
		t.Fatal(err)
	}
}

// TestBotsWebhookPerBotPath: each bot's webhook is set at
// /telegram/webhook/<bot> (default keeps /telegram/webhook) and checked
// against its own secret; links arrive by both.
func TestBotsWebhookPerBotPath(t *testing.T) {
	t.Parallel()
	h, fakeB := startBots(t, botsOpts{webhook: true, redisURL: redistest.Start(t).URL()})
	if got := fakeB.WebhookInfo().URL; !strings.HasSuffix(got, "/telegram/webhook/b") {
		t.Fatalf("bot b's webhook at Telegram = %q, want .../telegram/webhook/b", got)
	}
	if got := h.fake.WebhookInfo().URL; !strings.HasSuffix(got, "/telegram/webhook") {
		t.Fatalf("default's webhook at Telegram = %q", got)
	}
	ctx := ctxT(t)
	h.linkOn(ctx, "", h.fake, "erin", 700)
	h.linkOn(ctx, botB, fakeB, "erin", 800)
	update := []byte(`{"update_id": 999001, "message": {"message_id": 1, "date": 1, "chat": {"id": 900, "type": "private"}, "text": "/start"}}`)
	for _, tc := range []struct {
		path, secret string
		want         int
	}{
		{"/telegram/webhook/b", h.secret, http.StatusUnauthorized}, // default's secret on b's path
		{"/telegram/webhook", botBSecret, http.StatusUnauthorized}, // b's secret on default's path
		{"/telegram/webhook/nosuchbot", botBSecret, http.StatusNotFound},
		{"/telegram/webhook/b", botBSecret, http.StatusOK},
	} {
		req, _ := http.NewRequest("POST", h.base+tc.path, bytes.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tc.secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// forwardProxy is a plain HTTP forward proxy (absolute-form requests, as
// net/http sends to an http:// proxy for an http:// target) that records
// the paths it forwarded.
type forwardProxy struct {
	mu    sync.Mutex
	paths []string
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Connection")
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// seen reports how many forwarded paths contain s.
func (p *forwardProxy) seen(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, path := range p.paths {
		if strings.Contains(path, s) {
			n++
		}
	}
	return n
}

// TestBotsProxyURL: bot b reaches its Bot API through its proxy_url (a
// real forward proxy started here: every request of bot b went through
// it), the default bot directly.
func TestBotsProxyURL(t *testing.T) {
	t.Parallel()
	proxy := &forwardProxy{}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	h, fakeB := startBots(t, botsOpts{bLine: fmt.Sprintf("proxy_url: %q", ps.URL)})
	ctx := ctxT(t)
	h.linkOn(ctx, botB, fakeB, "frank", 1000)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "frank", Text: "through the proxy", Bot: botB})
	if got := h.waitFinal(r.GetNotificationId()); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("bot b behind its proxy: %v, want SENT", got)
	}
	for _, method := range []string{"/getMe", "/getUpdates", "/sendMessage"} {
		if proxy.seen("/bot"+botBToken+method) == 0 {
			t.Errorf("bot b's %s did not go through the proxy", method)
		}
	}
	if n := proxy.seen("/bot" + h.fake.Token() + "/"); n != 0 {
		t.Errorf("%d requests of the default bot (no proxy_url) went through bot b's proxy", n)
	}
	if total, viaProxy := fakeB.Calls("sendMessage"), proxy.seen("/bot"+botBToken+"/sendMessage"); viaProxy != total {
		t.Errorf("bot b: %d sendMessage at the fake, %d through the proxy", total, viaProxy)
	}
}

// TestSandboxTwoBots: NOTIFIER_SANDBOX_BOTS=2 runs "default" and "bot2",
// two fake bots a person plays through /sandbox/*?bot=.
func TestSandboxTwoBots(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true, env: map[string]string{"NOTIFIER_SANDBOX_BOTS": "2"}})
	ctx := ctxT(t)
	tok, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "gina", Bot: "bot2"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.GetUrl(), "t.me/"+h.fake.BotUsername()+"?") {
		t.Fatalf("bot2's link %q names the default bot", tok.GetUrl())
	}
	// The default bot does not know bot2's token.
	code, body := h.rest("POST", "/sandbox/start", map[string]any{"chat_id": 61, "token": tok.GetToken()})
	if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "gina"}); code != http.StatusOK || st.GetLinked() {
		t.Fatalf("bot2's token on the default bot: %d %v, linked %v", code, body, st.GetLinked())
	}
	code, body = h.rest("POST", "/sandbox/start?bot=bot2", map[string]any{"chat_id": 62, "token": tok.GetToken()})
	if code != http.StatusOK {
		t.Fatalf("/sandbox/start?bot=bot2: %d %v", code, body)
	}
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "gina", Bot: "bot2"})
	if err != nil || !st.GetLinked() || st.GetChatId() != 62 {
		t.Fatalf("GetStatus(bot2) = %v, %v; want linked to 62", st, err)
	}
	if code, _ := h.rest("GET", "/sandbox/messages?bot=nosuchbot", nil); code != http.StatusNotFound {
		t.Fatalf("/sandbox/messages?bot=nosuchbot: %d, want 404", code)
	}
	if fake2 := h.app.SandboxBot("bot2"); fake2 == nil || len(fake2.Messages(62)) == 0 {
		t.Fatal("bot2's fake has no welcome for chat 62")
	}
}

// TestBotsRevokedTokenNamesTheBot: when Telegram rejects bot b's token,
// readiness names bot b and its setting in the bots file, the default bot
// keeps delivering, and all is ready again once the token works.
func TestBotsRevokedTokenNamesTheBot(t *testing.T) {
	t.Parallel()
	h, fakeB := startBots(t, botsOpts{})
	h.linkOn(ctxT(t), "", h.fake, "ivy", 1200)
	fakeB.SetTokenRevoked(true)
	var reason string
	eventually(t, 10*time.Second, "/readyz 503 naming bot b", func() bool {
		var code int
		code, reason = readyz(t, h.base)
		return code == http.StatusServiceUnavailable && strings.Contains(reason, `NOTIFIER_BOTS_FILE bot "b" token`)
	})
	if strings.Contains(reason, botBToken) || strings.Contains(reason, "TELEGRAM_BOT_TOKEN") {
		t.Fatalf("readiness reason %q: holds the token, or names the default bot's variable", reason)
	}
	r := h.notify(&notifierv1.NotifyRequest{UserId: "ivy", Text: "default still works"})
	if got := h.waitFinal(r.GetNotificationId()); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("default bot while b's token is rejected: %v", got)
	}
	fakeB.SetTokenRevoked(false)
	h.waitReady()
}

// TestBotsBroadcast: a broadcast on bot b goes through bot b to its own
// linked users, is found by id without a bot (ids are global), and an
// unknown bot is NOT_FOUND.
func TestBotsBroadcast(t *testing.T) {
	t.Parallel()
	onBothBackendsBots(t, botsOpts{}, func(t *testing.T, h *harness, fakeB *fakebot.Server) {
		ctx := ctxT(t)
		h.linkOn(ctx, "", h.fake, "alice", 100)
		h.linkOn(ctx, botB, fakeB, "alice", 200)
		h.linkOn(ctx, botB, fakeB, "bob", 201)
		resp, err := h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{AllLinked: true, Text: "release on b", Bot: botB})
		if err != nil || resp.GetRecipients() != 2 {
			t.Fatalf("Broadcast(bot b, all_linked) = %v, %v; want 2 recipients (bot b's users)", resp, err)
		}
		eventually(t, 15*time.Second, "bot b's broadcast DONE", func() bool {
			b, err := h.client.GetBroadcast(ctx, &notifierv1.GetBroadcastRequest{BroadcastId: resp.GetBroadcastId()})
			return err == nil && b.GetState() == notifierv1.BroadcastState_BROADCAST_STATE_DONE && b.GetSent() == 2
		})
		for _, chat := range []int64{200, 201} {
			if ms := fakeB.Messages(chat); len(ms) == 0 || ms[len(ms)-1].Text != "release on b" {
				t.Errorf("bot b's chat %d did not get the broadcast: %v", chat, ms)
			}
		}
		if ms := h.fake.Messages(100); ms[len(ms)-1].Text == "release on b" {
			t.Error("the default bot's chat got bot b's broadcast")
		}
		_, err = h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: []string{"alice"}, Text: "x", Bot: "nosuchbot"})
		wantCode(t, err, codes.NotFound)
	})
}

// TestBotsPaidBroadcastRatePerBot: NOTIFIER_PAID_BROADCAST_RATE is the
// default of every bot, and paid_broadcast_rate: 0 turns paid broadcasts
// off for one bot (FAILED_PRECONDITION naming paid), not for the others.
func TestBotsPaidBroadcastRatePerBot(t *testing.T) {
	t.Parallel()
	h, fakeB := startBots(t, botsOpts{bLine: "paid_broadcast_rate: 0",
		env: map[string]string{"NOTIFIER_PAID_BROADCAST_RATE": "100"}})
	ctx := ctxT(t)
	h.linkOn(ctx, "", h.fake, "alice", 100)
	h.linkOn(ctx, botB, fakeB, "alice", 200)
	if _, err := h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: []string{"alice"}, Text: "paid", Paid: true}); err != nil {
		t.Fatalf("paid broadcast on the default bot: %v", err)
	}
	_, err := h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: []string{"alice"}, Text: "paid", Paid: true, Bot: botB})
	wantCode(t, err, codes.FailedPrecondition)
	if !strings.Contains(status.Convert(err).Message(), "paid") {
		t.Errorf("message %q does not name paid", status.Convert(err).Message())
	}
}
