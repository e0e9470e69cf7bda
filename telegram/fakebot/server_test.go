package fakebot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

func newServer(t *testing.T, opts ...fakebot.Option) (*fakebot.Server, *telegram.Client) {
	t.Helper()
	srv := fakebot.NewServer(append([]fakebot.Option{
		fakebot.WithWebhookRetry(5*time.Millisecond, 20*time.Millisecond),
	}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, srv.Client(telegram.WithRequestTimeout(5 * time.Second))
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type apiResp struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  map[string]int  `json:"parameters"`
}

func do(t *testing.T, req *http.Request) (int, apiResp) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var r apiResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	return resp.StatusCode, r
}

func TestRequestEncodings(t *testing.T) {
	srv, _ := newServer(t)
	srv.Start(42, "alice", "")
	base := srv.URL() + "/bot" + srv.Token() + "/"
	multipartBody := func() (io.Reader, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("chat_id", "42")
		_ = w.WriteField("text", "multipart")
		_ = w.WriteField("link_preview_options", `{"is_disabled":true}`)
		_ = w.Close()
		return &b, w.FormDataContentType()
	}
	tests := []struct {
		name     string
		req      func() *http.Request
		status   int
		wantText string
		wantDesc string
	}{
		{"json", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(`{"chat_id":42,"text":"json","disable_notification":true}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 200, "json", ""},
		{"json chat_id as string", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(`{"chat_id":"42","text":"str"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 200, "str", ""},
		{"chat by username", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(`{"chat_id":"@alice","text":"at"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 200, "at", ""},
		{"form", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(url.Values{"chat_id": {"42"}, "text": {"form"}, "parse_mode": {"HTML"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 200, "form", ""},
		{"query GET", func() *http.Request {
			r, _ := http.NewRequest("GET", base+"sendMessage?chat_id=42&text=query", nil)
			return r
		}, 200, "query", ""},
		{"multipart", func() *http.Request {
			body, ct := multipartBody()
			r, _ := http.NewRequest("POST", base+"sendMessage", body)
			r.Header.Set("Content-Type", ct)
			return r
		}, 200, "multipart", ""},
		{"method name case", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"SENDMESSAGE?chat_id=42&text=upper", nil)
			return r
		}, 200, "upper", ""},
		{"wrong token", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL()+"/bot1:nope/getMe", nil)
			return r
		}, 401, "", "Unauthorized"},
		{"unknown method", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendPigeon", nil)
			return r
		}, 404, "", "Not Found"},
		{"bad json", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(`{"chat_id":`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, "", "Bad Request: can't parse JSON object"},
		{"missing chat_id", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"sendMessage?text=x", nil)
			return r
		}, 400, "", "Bad Request: chat_id is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, r := do(t, tc.req())
			if status != tc.status {
				t.Fatalf("status = %d, want %d (%+v)", status, tc.status, r)
			}
			if tc.status != 200 {
				if r.OK || r.ErrorCode != tc.status || r.Description != tc.wantDesc {
					t.Errorf("error body = %+v, want %d %q", r, tc.status, tc.wantDesc)
				}
				return
			}
			var m telegram.Message
			if err := json.Unmarshal(r.Result, &m); err != nil || !r.OK || m.Text != tc.wantText || m.Chat.ID != 42 {
				t.Errorf("result = %s (%v)", r.Result, err)
			}
		})
	}
	if n := srv.Calls("sendmessage"); n != 9 {
		t.Errorf("Calls(sendMessage) = %d, want 9", n)
	}
	if got := srv.Messages(42); len(got) != 7 || got[0].MessageID != 2 || got[6].MessageID != 8 {
		t.Errorf("messages = %+v (ids must continue after the user's /start)", got)
	}
}

func TestSendMessageChecks(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	srv.Start(1, "a", "")
	long := strings.Repeat("x", telegram.MaxMessageLen)
	tests := []struct {
		name     string
		p        telegram.SendMessageParams
		wantCode int
		wantDesc string
	}{
		{"markup is checked before the chat", telegram.SendMessageParams{ChatID: 999, Text: "1.0", ParseMode: "MarkdownV2"},
			400, `Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`},
		{"unknown chat", telegram.SendMessageParams{ChatID: 999, Text: "x"}, 400, "Bad Request: chat not found"},
		{"4096 plain", telegram.SendMessageParams{ChatID: 1, Text: long}, 0, ""},
		{"4097 plain", telegram.SendMessageParams{ChatID: 1, Text: long + "x"}, 400, "Bad Request: message is too long"},
		{"4096 after markup", telegram.SendMessageParams{ChatID: 1, Text: "*" + long + "*", ParseMode: "MarkdownV2"}, 0, ""},
		{"4096 after html", telegram.SendMessageParams{ChatID: 1, Text: "<b>" + long[:4092] + "</b>&lt;&gt;&amp;&quot;", ParseMode: "HTML"}, 0, ""},
		{"utf-16 units count", telegram.SendMessageParams{ChatID: 1, Text: strings.Repeat("😀", 2048) + "x"}, 400, "Bad Request: message is too long"},
		{"whitespace only", telegram.SendMessageParams{ChatID: 1, Text: " \n "}, 400, "Bad Request: message text is empty"},
		{"markup only", telegram.SendMessageParams{ChatID: 1, Text: "<b></b>", ParseMode: "HTML"}, 400, "Bad Request: message text is empty"},
		{"lower-case parse mode", telegram.SendMessageParams{ChatID: 1, Text: "<b>x</b>", ParseMode: "html"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SendMessage(ctx, tc.p)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				return
			}
			var te *telegram.Error
			if !errors.As(err, &te) || te.Code != tc.wantCode || te.Description != tc.wantDesc {
				t.Errorf("err = %v, want %d %q", err, tc.wantCode, tc.wantDesc)
			}
		})
	}
}

func TestBlockUnblockUpdates(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	srv.Start(7, "bob", "TOKEN")
	blocked := srv.Block(7)
	if m := blocked.MyChatMember; m == nil || m.NewChatMember.Status != "kicked" || m.OldChatMember.Status != "member" ||
		m.Chat.Type != "private" || m.From.ID != 7 || m.NewChatMember.User.ID != srv.BotID() {
		t.Fatalf("block update = %+v", blocked)
	}
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 7, Text: "x"}); !telegram.IsBlocked(err) {
		t.Fatalf("send to a blocked chat: %v", err)
	}
	again := srv.Start(7, "bob", "TOKEN2") // pressing Start again unblocks first
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, u := range ups {
		kinds = append(kinds, u.Kind())
	}
	if strings.Join(kinds, ",") != "message,my_chat_member,my_chat_member,message" || ups[3].UpdateID != again.UpdateID {
		t.Errorf("kinds = %v", kinds)
	}
	if ups[2].MyChatMember.NewChatMember.Status != "member" {
		t.Errorf("unblock update = %+v", ups[2].MyChatMember)
	}
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 7, Text: "x"}); err != nil {
		t.Errorf("after unblock: %v", err)
	}
	srv.Deactivate(7)
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 7, Text: "x"}); !telegram.IsBlocked(err) ||
		!strings.Contains(err.Error(), "user is deactivated") {
		t.Errorf("after deactivate: %v", err)
	}
}

func TestGroupsAndMigration(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	u := srv.StartGroup(-4001, "Ops", 5, "carol", "GTOKEN")
	if name, bot, args, ok := u.Message.Command(); !ok || name != "start" || bot != srv.BotUsername() || args != "GTOKEN" ||
		u.Message.Chat.Type != "group" || u.Message.From.ID != 5 {
		t.Fatalf("group start = %+v", u.Message)
	}
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: -4001, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	srv.MigrateChat(-4001, -1004001)
	_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: -4001, Text: "hi"})
	if id, ok := telegram.MigratedTo(err); !ok || id != -1004001 {
		t.Fatalf("send to migrated group: %v", err)
	}
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: -1004001, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{})
	if err != nil || len(ups) != 4 {
		t.Fatalf("updates %+v, %v", ups, err)
	}
	if ups[0].MyChatMember == nil || ups[2].Message.MigrateToChatID != -1004001 || ups[3].Message.MigrateFromChatID != -4001 ||
		ups[3].Message.Chat.Type != "supergroup" {
		t.Errorf("updates = %+v", ups)
	}
}

func TestGetUpdatesSemantics(t *testing.T) {
	srv, c := newServer(t, fakebot.WithFirstUpdateID(500))
	ctx := testCtx(t)
	for i := range 5 {
		srv.SendText(1, "a", fmt.Sprint("m", i))
	}
	srv.Block(1)

	ids := func(ups []telegram.Update) []int64 {
		var out []int64
		for _, u := range ups {
			out = append(out, u.UpdateID)
		}
		return out
	}
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Limit: 2})
	if err != nil || fmt.Sprint(ids(ups)) != "[500 501]" {
		t.Fatalf("limit 2: %v %v", ids(ups), err)
	}
	ups, _ = c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: 502, Limit: 2})
	if fmt.Sprint(ids(ups)) != "[502 503]" {
		t.Errorf("offset 502: %v", ids(ups))
	}
	ups, _ = c.GetUpdates(ctx, telegram.GetUpdatesParams{})
	if fmt.Sprint(ids(ups)) != "[502 503 504 505]" {
		t.Errorf("earlier updates must be forgotten once confirmed: %v", ids(ups))
	}
	ups, _ = c.GetUpdates(ctx, telegram.GetUpdatesParams{AllowedUpdates: []string{"message"}})
	if fmt.Sprint(ids(ups)) != "[502 503 504]" {
		t.Errorf("allowed_updates=message: %v (my_chat_member must be filtered)", ids(ups))
	}
	ups, _ = c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: -1, AllowedUpdates: []string{}})
	if fmt.Sprint(ids(ups)) != "[504]" {
		t.Errorf("offset -1: %v", ids(ups))
	}
	if wi := srv.WebhookInfo(); wi.PendingUpdateCount != 1 || wi.AllowedUpdates != nil {
		t.Errorf("webhook info %+v", wi)
	}
}

func TestGetUpdatesLongPoll(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	type result struct {
		ups []telegram.Update
		err error
	}
	first := make(chan result, 1)
	go func() {
		ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Timeout: 30})
		first <- result{ups, err}
	}()
	if err := srv.WaitForPolls(ctx, 1); err != nil {
		t.Fatal(err)
	}
	u := srv.Start(3, "c", "")
	r := <-first
	if r.err != nil || len(r.ups) != 1 || r.ups[0].UpdateID != u.UpdateID {
		t.Fatalf("long poll woke with %+v", r)
	}

	// A second concurrent getUpdates terminates the first with a 409.
	first = make(chan result, 1)
	go func() {
		ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: u.UpdateID + 1, Timeout: 30})
		first <- result{ups, err}
	}()
	if err := srv.WaitForPolls(ctx, 2); err != nil {
		t.Fatal(err)
	}
	second := make(chan result, 1)
	go func() {
		ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: u.UpdateID + 1, Timeout: 1})
		second <- result{ups, err}
	}()
	r = <-first
	if !telegram.IsConflict(r.err) || !strings.Contains(r.err.Error(), "terminated by other getUpdates request") {
		t.Errorf("earlier poll got %v, want the 409", r.err)
	}
	if r := <-second; r.err != nil || len(r.ups) != 0 {
		t.Errorf("later poll got %+v", r)
	}

	// setWebhook while polling ends the poll with a 409 too.
	first = make(chan result, 1)
	go func() {
		ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Timeout: 30})
		first <- result{ups, err}
	}()
	if err := srv.WaitForPolls(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: "https://example.invalid/x"}); err != nil {
		t.Fatal(err)
	}
	if r := <-first; !telegram.IsConflict(r.err) || !strings.Contains(r.err.Error(), "webhook is active") {
		t.Errorf("poll during setWebhook got %v", r.err)
	}
}

func TestSetWebhookValidation(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	tests := []struct {
		name     string
		p        telegram.SetWebhookParams
		wantDesc string
	}{
		{"ok", telegram.SetWebhookParams{URL: "https://example.com/hook", SecretToken: "A-z_09", MaxConnections: 100}, ""},
		{"secret with bad chars", telegram.SetWebhookParams{URL: "https://example.com/hook", SecretToken: "bad token!"},
			"Bad Request: secret token contains unallowed characters"},
		{"secret too long", telegram.SetWebhookParams{URL: "https://example.com/hook", SecretToken: strings.Repeat("a", 257)},
			"Bad Request: secret token contains unallowed characters"},
		{"max_connections", telegram.SetWebhookParams{URL: "https://example.com/hook", MaxConnections: 101},
			"Bad Request: bad webhook: max_connections must be between 1 and 100"},
		{"bad url", telegram.SetWebhookParams{URL: "ftp://example.com"}, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.SetWebhook(ctx, tc.p)
			if tc.wantDesc == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var te *telegram.Error
			if !errors.As(err, &te) || te.Code != 400 || te.Description != tc.wantDesc {
				t.Errorf("err = %v, want 400 %q", err, tc.wantDesc)
			}
		})
	}
	srv.Start(1, "a", "")
	if wi := srv.WebhookInfo(); wi.URL != "https://example.com/hook" || wi.MaxConnections != 100 {
		t.Errorf("info = %+v", wi)
	}
	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: "", DropPendingUpdates: true}); err != nil {
		t.Fatal(err)
	}
	if wi := srv.WebhookInfo(); wi.URL != "" || wi.PendingUpdateCount != 0 {
		t.Errorf("after empty url + drop: %+v", wi)
	}
}

func TestFaults(t *testing.T) {
	srv, c := newServer(t, fakebot.WithSeed(1))
	ctx := testCtx(t)
	srv.Start(1, "a", "")
	send := func() error {
		_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 1, Text: "x"})
		return err
	}

	srv.FailNext("sendMessage", 2, 500, "", 0)
	srv.FailNext(fakebot.AnyMethod, 1, 502, "Bad Gateway", 0)
	for i, want := range []int{500, 500, 502, 0} {
		err := send()
		var te *telegram.Error
		switch {
		case want == 0 && err != nil:
			t.Errorf("call %d: %v, want success", i, err)
		case want != 0 && (!errors.As(err, &te) || te.Code != want):
			t.Errorf("call %d: %v, want %d", i, err, want)
		}
	}
	if n := len(srv.Messages(1)); n != 1 {
		t.Errorf("%d messages recorded, want only the successful one", n)
	}

	srv.SetErrorRate("sendMessage", 1, 503)
	if err := send(); !telegram.IsTemporary(err) {
		t.Errorf("error rate 1: %v", err)
	}
	srv.SetErrorRate("sendMessage", 0, 0)
	if err := send(); err != nil {
		t.Errorf("error rate off: %v", err)
	}

	srv.FailNext("sendMessage", 1, 429, "", 7)
	_ = send()
	if n := srv.Count429(); n != 1 {
		t.Errorf("Count429 = %d", n)
	}

	srv.SetLatency(200 * time.Millisecond)
	quick := srv.Client(telegram.WithRequestTimeout(20 * time.Millisecond))
	if _, err := quick.GetMe(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v", err)
	}
	srv.SetLatency(0)

	srv.SetHang(true)
	calls := srv.Calls("sendMessage") // read before the send starts, which may be counted at once
	done := make(chan error, 1)
	go func() { done <- send() }()
	if err := srv.WaitForCalls(ctx, "sendMessage", calls+1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("hanging send returned %v", err)
	default:
	}
	if _, err := c.GetMe(ctx); err != nil {
		t.Errorf("getMe must not hang: %v", err)
	}
	srv.SetHang(false)
	if err := <-done; err != nil {
		t.Errorf("released send: %v", err)
	}
}

// clock is a manual clock for rate-limit tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimits(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	srv, c := newServer(t, fakebot.WithClock(clk.Now))
	ctx := testCtx(t)
	for id := int64(1); id <= 4; id++ {
		srv.Start(id, "", "")
	}
	srv.SendGroupText(-10, "g", 1, "", "hi")
	send := func(chat int64, paid bool) error {
		_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: chat, Text: "x", AllowPaidBroadcast: paid})
		return err
	}
	retry := func(err error) time.Duration {
		d, ok := telegram.RetryAfter(err)
		if !ok {
			return 0
		}
		return d
	}

	// Off by default.
	for range 10 {
		if err := send(1, false); err != nil {
			t.Fatalf("limits off: %v", err)
		}
	}

	srv.SetLimits(fakebot.Limits{PerChat: 1})
	if err := send(1, false); err != nil {
		t.Fatal(err)
	}
	err := send(1, false)
	if retry(err) != time.Second || !strings.Contains(err.Error(), "Too Many Requests: retry after 1") {
		t.Errorf("second message in the same second: %v", err)
	}
	if err := send(2, false); err != nil {
		t.Errorf("another chat is not limited: %v", err)
	}
	clk.Add(time.Second)
	if err := send(1, false); err != nil {
		t.Errorf("after a second: %v", err)
	}

	srv.SetLimits(fakebot.Limits{Global: 2, RetryAfter: 5})
	_ = send(1, false)
	_ = send(2, false)
	if err := send(3, false); retry(err) != 5*time.Second {
		t.Errorf("third message within the global limit: %v", err)
	}
	if err := send(3, true); err != nil {
		t.Errorf("paid broadcast is exempt from the global limit: %v", err)
	}

	srv.SetLimits(fakebot.Limits{PerGroupPerMinute: 2})
	_ = send(-10, false)
	_ = send(-10, false)
	if err := send(-10, false); retry(err) != 30*time.Second {
		t.Errorf("third group message within a minute: %v (retry %v)", err, retry(err))
	}
	if err := send(4, false); err != nil {
		t.Errorf("private chats are not group-limited: %v", err)
	}
	if n := srv.Count429(); n != 3 {
		t.Errorf("Count429 = %d, want 3", n)
	}
}

func TestInjectUpdate(t *testing.T) {
	srv, c := newServer(t, fakebot.WithFirstUpdateID(10))
	ctx := testCtx(t)
	id, err := srv.InjectUpdate(json.RawMessage(`{"callback_query":{"id":"1","data":"x"}}`))
	if err != nil || id != 10 {
		t.Fatalf("InjectUpdate = %d, %v", id, err)
	}
	if id, err := srv.InjectUpdate(json.RawMessage(`{"update_id":99,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"odd"}}`)); err != nil || id != 99 {
		t.Fatalf("explicit id: %d, %v", id, err)
	}
	if _, err := srv.InjectUpdate(json.RawMessage(`[1]`)); err == nil {
		t.Error("a non-object must be refused")
	}
	if u := srv.Start(1, "a", ""); u.UpdateID != 100 {
		t.Errorf("next update id = %d, want 100", u.UpdateID)
	}
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{AllowedUpdates: []string{"message"}})
	if err != nil || len(ups) != 2 || ups[0].Message.Text != "odd" {
		t.Errorf("updates %+v, %v (callback_query must be filtered)", ups, err)
	}
}

func TestWaitForMessages(t *testing.T) {
	srv, c := newServer(t)
	srv.Start(1, "a", "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.SendMessage(testCtx(t), telegram.SendMessageParams{ChatID: 1, Text: "one"}); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitForMessages(ctx, 1, 2)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 1 {
		t.Errorf("WaitForMessages = %d, %v", len(got), err)
	}
}

func TestConcurrentSends(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	const chats, perChat = 5, 20
	for id := int64(1); id <= chats; id++ {
		srv.Start(id, "", "")
	}
	var wg sync.WaitGroup
	for id := int64(1); id <= chats; id++ {
		for range perChat {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: id, Text: "x"}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	waitErr := make(chan error, 1)
	go func() {
		_, err := srv.WaitForMessages(ctx, 3, perChat)
		waitErr <- err
	}()
	wg.Wait()
	if err := <-waitErr; err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= chats; id++ {
		seen := map[int64]bool{}
		for _, m := range srv.Messages(id) {
			if seen[m.MessageID] {
				t.Errorf("chat %d: duplicate message id %d", id, m.MessageID)
			}
			seen[m.MessageID] = true
		}
		if len(seen) != perChat {
			t.Errorf("chat %d: %d messages", id, len(seen))
		}
	}
	if n := len(srv.AllMessages()); n != chats*perChat {
		t.Errorf("AllMessages = %d", n)
	}
}

func TestHandlerMountable(t *testing.T) {
	srv, _ := newServer(t, fakebot.WithToken("1:mounted"), fakebot.WithBotUsername("sandbox_bot"))
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()
	me, err := telegram.NewClient(ts.URL, "1:mounted").GetMe(testCtx(t))
	if err != nil || me.Username != "sandbox_bot" {
		t.Errorf("GetMe via mounted handler = %+v, %v", me, err)
	}
}

func TestCloseReleasesWaiters(t *testing.T) {
	srv := fakebot.NewServer()
	c := srv.Client()
	done := make(chan error, 1)
	go func() {
		_, err := c.GetUpdates(context.Background(), telegram.GetUpdatesParams{Timeout: 60})
		done <- err
	}()
	if err := srv.WaitForCalls(testCtx(t), "getUpdates", 1); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("want an error from a closed server")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll survived Close")
	}
}
