package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tgnotify/tgnotify/app"
	"github.com/tgnotify/tgnotify/config"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/freeport"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/updates"
)

// harness is one running service on free loopback ports, talking to a fake
// Bot API, with a gRPC client and an HTTP base URL.
type harness struct {
	t      testing.TB
	app    *app.App
	fake   *fakebot.Server
	client notifierv1.NotifierServiceClient
	conn   *grpc.ClientConn
	base   string
	stop   func()
	secret string
}

type harnessOpts struct {
	webhook  bool
	redisURL string
	fake     *fakebot.Server
	sandbox  bool
	env      map[string]string
}

// testSessionSecret signs the harness's browser sessions.
const testSessionSecret = "e2e-session-secret-0123456789abcdef-0123"

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	return freeport.MustAddr(t)
}

func startHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, fake: o.fake, secret: "s3cret_Token-123"}
	env := map[string]string{
		"NOTIFIER_GRPC_ADDR":        "127.0.0.1:0",
		"NOTIFIER_HTTP_ADDR":        freeAddr(t),
		"REDIS_URL":                 o.redisURL,
		"TELEGRAM_WEBHOOK_SECRET":   h.secret,
		"LINK_TOKEN_TTL":            "1h",
		"NOTIFIER_SHUTDOWN_TIMEOUT": "5s",
		// Telegram's limits are tested on their own; here they only slow.
		"NOTIFIER_CHAT_RATE":   "0",
		"NOTIFIER_GLOBAL_RATE": "1000",
		"NOTIFIER_MIN_BACKOFF": "50ms",
		// Only read when a test turns API keys on.
		"NOTIFIER_SESSION_SECRET": testSessionSecret,
	}
	if !o.sandbox {
		if h.fake == nil {
			h.fake = fakebot.NewServer()
			t.Cleanup(h.fake.Close)
		}
		env["TELEGRAM_BOT_TOKEN"] = h.fake.Token()
		env["TELEGRAM_API_URL"] = h.fake.URL()
		// Tests that need API keys set NOTIFIER_API_KEYS_FILE in o.env.
		env["NOTIFIER_ALLOW_OPEN_API"] = "true"
	} else {
		// The harness always sets TELEGRAM_WEBHOOK_SECRET (and maybe
		// REDIS_URL): production-like settings, so the sandbox must be asked for.
		env["NOTIFIER_SANDBOX"] = "true"
	}
	if o.webhook {
		env["TELEGRAM_WEBHOOK_URL"] = "http://" + env["NOTIFIER_HTTP_ADDR"] + "/telegram/webhook"
	}
	for k, v := range o.env {
		env[k] = v
	}
	app, stop := runApp(t, env)
	h.app = app
	h.stop = stop
	if o.sandbox {
		h.fake = app.Sandbox()
	}
	h.base = "http://" + app.HTTPAddr()
	var err error
	h.conn, err = grpc.NewClient(app.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.shutdown)
	h.client = notifierv1.NewNotifierServiceClient(h.conn)
	h.waitReady()
	return h
}

// shutdown closes the client and stops the service.
func (h *harness) shutdown() {
	_ = h.conn.Close()
	h.stop()
}

// runApp starts the service with env and returns it with a stop function
// that shuts it down and waits for Run to return (safe to call twice).
func runApp(t testing.TB, env map[string]string) (*app.App, func()) {
	t.Helper()
	cfg, err := config.Load(config.MapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("service did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

func (h *harness) waitReady() {
	h.t.Helper()
	eventually(h.t, 10*time.Second, "service ready", func() bool {
		resp, err := http.Get(h.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Eventually(t, timeout, what, cond)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// link walks the deep-link flow for user over gRPC and returns the chat's
// messages after the welcome.
func (h *harness) link(user string, chatID int64) {
	h.t.Helper()
	ctx := ctxT(h.t)
	resp, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: user})
	if err != nil {
		h.t.Fatalf("CreateLinkToken: %v", err)
	}
	before := len(h.fake.Messages(chatID))
	h.fake.Start(chatID, "user"+fmt.Sprint(chatID), resp.GetToken())
	msgs, err := h.fake.WaitForMessages(ctx, chatID, before+1)
	if err != nil {
		h.t.Fatalf("no welcome for %s: %v", user, err)
	}
	if got := msgs[len(msgs)-1].Text; got != updates.DefaultWelcomeMessage {
		h.t.Fatalf("reply after /start = %q, want the welcome message", got)
	}
}

func (h *harness) rest(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			buf, _ := json.Marshal(b)
			rd = bytes.NewReader(buf)
		}
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code = %s (%v), want %s", got, err, want)
	}
}

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

func TestLinkAndNotifyPolling(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	testLinkAndNotify(t, h)
}

func TestLinkAndNotifyWebhookRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	h := startHarness(t, harnessOpts{webhook: true, redisURL: rs.URL()})
	if got := h.fake.WebhookInfo().URL; !strings.HasSuffix(got, "/telegram/webhook") {
		t.Fatalf("webhook URL at Telegram = %q", got)
	}
	testLinkAndNotify(t, h)
}

func testLinkAndNotify(t *testing.T, h *harness) {
	ctx := ctxT(t)
	const chat = int64(5001)

	// Not linked yet.
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"})
	if err != nil || st.GetLinked() {
		t.Fatalf("GetStatus before link = %v, %v", st, err)
	}
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "hi"})
	wantCode(t, err, codes.FailedPrecondition)

	// GetLinkURL reuses the live token.
	u1, err := h.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := h.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u1.GetToken() != u2.GetToken() || !tokenRe.MatchString(u1.GetToken()) {
		t.Fatalf("GetLinkURL tokens %q, %q: want the same valid token", u1.GetToken(), u2.GetToken())
	}
	wantURL := "https://t.me/" + h.fake.BotUsername() + "?start=" + u1.GetToken()
	if u1.GetUrl() != wantURL {
		t.Fatalf("url = %q, want %q", u1.GetUrl(), wantURL)
	}
	if d := time.Until(u1.GetExpiresAt().AsTime()); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %s, want about 1h", d)
	}

	// Press Start.
	h.fake.Start(chat, "alice_tg", u1.GetToken())
	msgs, err := h.fake.WaitForMessages(ctx, chat, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Text != updates.DefaultWelcomeMessage {
		t.Fatalf("welcome = %q", msgs[0].Text)
	}
	st, err = h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.GetLinked() || st.GetChatId() != chat || st.GetUsername() != "alice_tg" || st.GetLinkedAt() == nil {
		t.Fatalf("GetStatus after link = %v", st)
	}

	// The token is single use: a second Start gets a friendly refusal.
	h.fake.Start(chat+1, "mallory", u1.GetToken())
	msgs, err = h.fake.WaitForMessages(ctx, chat+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[0].Text, "expired or was already used") {
		t.Fatalf("reply to reused token = %q", msgs[0].Text)
	}
	if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"}); st.GetChatId() != chat {
		t.Fatalf("reused token moved the link to %d", st.GetChatId())
	}

	// Notify over gRPC.
	nr, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "*Order* shipped", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, DisableNotification: true})
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if nr.GetNotificationId() == "" {
		t.Fatal("no notification_id")
	}
	msgs, err = h.fake.WaitForMessages(ctx, chat, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m := msgs[1]; m.Text != "*Order* shipped" || m.ParseMode != "MarkdownV2" || !m.DisableNotification {
		t.Fatalf("sent %+v", m)
	}

	// Notify over REST.
	code, body := h.rest("POST", "/v1/users/alice/notifications", map[string]any{"text": "via REST", "parse_mode": "PARSE_MODE_HTML"})
	if code != http.StatusOK || body["notification_id"] == "" {
		t.Fatalf("REST notify = %d %v", code, body)
	}
	if _, err := h.fake.WaitForMessages(ctx, chat, 3); err != nil {
		t.Fatal(err)
	}

	// /stop unlinks.
	h.fake.SendText(chat, "alice_tg", "/stop")
	if _, err := h.fake.WaitForMessages(ctx, chat, 4); err != nil {
		t.Fatal(err)
	}
	st, _ = h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"})
	if st.GetLinked() {
		t.Fatal("still linked after /stop")
	}
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "hi"})
	wantCode(t, err, codes.FailedPrecondition)

	// Plain /start explains what to do.
	h.fake.Start(chat+2, "bob", "")
	msgs, err = h.fake.WaitForMessages(ctx, chat+2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[0].Text, "open the link") {
		t.Fatalf("reply to bare /start = %q", msgs[0].Text)
	}
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	ctx := ctxT(t)
	hc := healthpb.NewHealthClient(h.conn)
	for _, svc := range []string{"", "notifier.v1.NotifierService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, %v", svc, resp, err)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := h.rest("GET", path, nil); code != http.StatusOK {
			t.Fatalf("%s = %d", path, code)
		}
	}
	code, doc := h.rest("GET", "/openapi.json", nil)
	if code != http.StatusOK || doc["swagger"] != "2.0" {
		t.Fatalf("/openapi.json = %d %v", code, doc["swagger"])
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/users/{user_id}/link-token", "/v1/users/{user_id}/notifications", "/v1/users/{user_id}/status", "/v1/users/{user_id}/link-url", "/v1/users/{user_id}/link", "/v1/events", "/v1/events:watch"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi lacks %s", p)
		}
	}
}

// onBothBackends runs test in parallel subtests against a fresh service on
// the in-memory store and on a real redis-server.
func onBothBackends(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	onBothBackendsWith(t, nil, test)
}

// onBothBackendsWith is onBothBackends with env added to the service's.
func onBothBackendsWith(t *testing.T, env map[string]string, test func(t *testing.T, h *harness)) {
	t.Helper()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			o := harnessOpts{env: env}
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			test(t, startHarness(t, o))
		})
	}
}
