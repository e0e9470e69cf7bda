package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/freeport"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestClientMethods(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)

	me, err := c.GetMe(ctx)
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	if !me.IsBot || me.Username != srv.BotUsername() || me.ID != srv.BotID() {
		t.Errorf("GetMe = %+v, want bot %q", me, srv.BotUsername())
	}

	srv.Start(42, "alice", "tok")
	msg, err := c.SendMessage(ctx, telegram.SendMessageParams{
		ChatID: 42, Text: "*Hi* there", ParseMode: telegram.ParseModeMarkdownV2,
		DisableNotification: true, LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if msg.Chat.ID != 42 || msg.Text != "Hi there" || msg.MessageID < 1 || msg.From == nil || !msg.From.IsBot {
		t.Errorf("SendMessage = %+v", msg)
	}
	if len(msg.Entities) != 1 || msg.Entities[0] != (telegram.MessageEntity{Type: "bold", Offset: 0, Length: 2}) {
		t.Errorf("entities = %+v, want one bold 0..2", msg.Entities)
	}
	sent := srv.Messages(42)
	if len(sent) != 1 || sent[0].Text != "*Hi* there" || !sent[0].DisableNotification ||
		sent[0].LinkPreviewOptions == nil || !sent[0].LinkPreviewOptions.IsDisabled {
		t.Errorf("recorded %+v", sent)
	}

	err = c.SetWebhook(ctx, telegram.SetWebhookParams{
		URL: "https://example.invalid/hook", SecretToken: "s3cret_-", MaxConnections: 5,
		AllowedUpdates: []string{"message", "my_chat_member"},
	})
	if err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	wi, err := c.GetWebhookInfo(ctx)
	if err != nil {
		t.Fatalf("GetWebhookInfo: %v", err)
	}
	if wi.URL != "https://example.invalid/hook" || wi.MaxConnections != 5 ||
		strings.Join(wi.AllowedUpdates, ",") != "message,my_chat_member" {
		t.Errorf("GetWebhookInfo = %+v", wi)
	}
	if _, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{}); !telegram.IsConflict(err) {
		t.Errorf("GetUpdates with a webhook set: err = %v, want 409", err)
	}
	if err := c.DeleteWebhook(ctx, true); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if wi, _ := c.GetWebhookInfo(ctx); wi.URL != "" || wi.PendingUpdateCount != 0 {
		t.Errorf("after DeleteWebhook(drop): %+v", wi)
	}

	u1 := srv.Start(43, "bob", "")
	u2 := srv.SendText(43, "bob", "/stop")
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Timeout: 1, Limit: 10})
	if err != nil {
		t.Fatalf("GetUpdates: %v", err)
	}
	if len(ups) != 2 || ups[0].UpdateID != u1.UpdateID || ups[1].UpdateID != u2.UpdateID {
		t.Fatalf("GetUpdates = %+v", ups)
	}
	if name, _, args, ok := ups[0].Message.Command(); !ok || name != "start" || args != "" {
		t.Errorf("first update command = %q %q %v", name, args, ok)
	}
	ups, err = c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: u2.UpdateID + 1, Timeout: 0})
	if err != nil || len(ups) != 0 {
		t.Errorf("after confirming: %v %v", ups, err)
	}
}

func TestClientErrors(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.Start(1, "blocked", "")
	srv.Block(1)
	srv.Start(2, "gone", "")
	srv.Deactivate(2)
	srv.Start(3, "ok", "")
	srv.SendGroupText(-5, "g", 3, "ok", "hi")
	srv.MigrateChat(-5, -1009999999999)

	send := func(chat int64, text, mode string) error {
		_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: chat, Text: text, ParseMode: mode})
		return err
	}
	tests := []struct {
		name   string
		setup  func()
		call   func() error
		code   int
		check  func(error) bool
		substr string
	}{
		{"401 bad token", nil, func() error {
			_, err := telegram.NewClient(srv.URL(), "1:wrong").GetMe(ctx)
			return err
		}, 401, telegram.IsUnauthorized, "Unauthorized"},
		{"400 chat not found", nil, func() error { return send(999, "hi", "") }, 400, telegram.IsChatNotFound, "chat not found"},
		{"400 can't parse entities", nil, func() error { return send(3, "v1.0-beta", telegram.ParseModeMarkdownV2) },
			400, telegram.IsParseEntities, "Character '.' is reserved"},
		{"400 unsupported start tag", nil, func() error { return send(3, "a <x> b", telegram.ParseModeHTML) },
			400, telegram.IsParseEntities, `Unsupported start tag "x" at byte offset 2`},
		{"400 too long", nil, func() error { return send(3, strings.Repeat("😀", 2049), "") }, 400, telegram.IsTooLong, "too long"},
		{"400 empty", nil, func() error { return send(3, "", "") }, 400, nil, "message text is empty"},
		{"400 unsupported parse_mode", nil, func() error { return send(3, "x", "XML") }, 400, nil, "unsupported parse_mode"},
		{"403 blocked", nil, func() error { return send(1, "hi", "") }, 403, telegram.IsBlocked, "bot was blocked by the user"},
		{"403 deactivated", nil, func() error { return send(2, "hi", "") }, 403, telegram.IsBlocked, "user is deactivated"},
		{"400 migrated", nil, func() error { return send(-5, "hi", "") }, 400, func(err error) bool {
			id, ok := telegram.MigratedTo(err)
			return ok && id == -1009999999999
		}, "upgraded to a supergroup"},
		{"409 conflict", func() { srv.FailNext("getUpdates", 1, 409, "", 0) }, func() error {
			_, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{})
			return err
		}, 409, telegram.IsConflict, "terminated by other getUpdates"},
		{"429 retry after", func() { srv.FailNext("sendMessage", 1, 429, "", 17) }, func() error { return send(3, "hi", "") },
			429, func(err error) bool {
				d, ok := telegram.RetryAfter(err)
				return ok && d == 17*time.Second && telegram.IsTemporary(err)
			}, "retry after 17"},
		{"500 json", func() { srv.FailNext("getMe", 1, 500, "Internal Server Error", 0) }, func() error {
			_, err := c.GetMe(ctx)
			return err
		}, 500, telegram.IsTemporary, "Internal Server Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			err := tc.call()
			var te *telegram.Error
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want *telegram.Error", err, err)
			}
			if te.Code != tc.code {
				t.Errorf("code = %d, want %d (%v)", te.Code, tc.code, err)
			}
			if tc.check != nil && !tc.check(err) {
				t.Errorf("predicate false for %v", err)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("err = %q, want it to contain %q", err, tc.substr)
			}
			if !strings.HasPrefix(err.Error(), "telegram: ") {
				t.Errorf("err = %q, want the telegram: prefix", err)
			}
			if te.Method == "" {
				t.Errorf("Method not set")
			}
		})
	}
}

// TestClientTokenNeverInErrors provokes transport failures, whose
// *url.Error would carry the full URL, and checks the token is scrubbed.
func TestClientTokenNeverInErrors(t *testing.T) {
	srv, _ := newFake(t)
	deadAddr := "http://" + freeport.MustAddr(t) // nothing listens there: connection refused

	tests := []struct {
		name      string
		client    *telegram.Client
		setup     func(t *testing.T)
		ctx       func() (context.Context, context.CancelFunc)
		temporary bool
		wantIs    error
	}{
		{"connection refused", telegram.NewClient(deadAddr, testToken), nil,
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, nil},
		{"request timeout", telegram.NewClient(srv.URL(), testToken, telegram.WithRequestTimeout(50*time.Millisecond)),
			func(t *testing.T) { srv.SetHang(true); t.Cleanup(func() { srv.SetHang(false) }) },
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, context.DeadlineExceeded},
		{"http client timeout", telegram.NewClient(srv.URL(), testToken, telegram.WithRequestTimeout(0),
			telegram.WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond})),
			func(t *testing.T) { srv.SetHang(true); t.Cleanup(func() { srv.SetHang(false) }) },
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, nil},
		{"caller deadline", telegram.NewClient(srv.URL(), testToken),
			func(t *testing.T) { srv.SetHang(true); t.Cleanup(func() { srv.SetHang(false) }) },
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			true, context.DeadlineExceeded},
		{"bad base URL", telegram.NewClient("http://[::1", testToken), nil,
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			ctx, cancel := tc.ctx()
			defer cancel()
			srv.Start(7, "x", "")
			_, err := tc.client.SendMessage(ctx, telegram.SendMessageParams{ChatID: 7, Text: "hi"})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, leak := range []string{testToken, "SECRET-token", "987654321:"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("token leaked in %q", err)
				}
			}
			if tc.temporary && !strings.Contains(err.Error(), "<redacted>") {
				t.Errorf("err = %q, want the URL with <redacted>", err)
			}
			if got := telegram.IsTemporary(err); got != tc.temporary {
				t.Errorf("IsTemporary(%v) = %v, want %v", err, got, tc.temporary)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
		})
	}

	t.Run("cancelled context is not temporary", func(t *testing.T) {
		srv.SetHang(true)
		defer srv.SetHang(false)
		ctx, cancel := context.WithCancel(context.Background())
		c := telegram.NewClient(srv.URL(), testToken)
		done := make(chan error, 1)
		go func() {
			_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 7, Text: "hi"})
			done <- err
		}()
		if err := srv.WaitForCalls(testCtx(t), "sendMessage", 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || telegram.IsTemporary(err) || strings.Contains(err.Error(), testToken) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestClientWireFormat(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string]map[string]any{}
		paths  []string
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		bodies[method] = m
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		switch method {
		case "getUpdates":
			_, _ = io.WriteString(w, `{"ok":true,"result":[]}`)
		case "sendMessage":
			_, _ = io.WriteString(w, `{"ok":true,"result":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"x"}}`)
		default:
			_, _ = io.WriteString(w, `{"ok":true,"result":true}`)
		}
	}))
	defer ts.Close()
	c := telegram.NewClient(ts.URL+"/", "1:tok")
	ctx := testCtx(t)
	if _, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Offset: 9, Limit: 50, Timeout: 0, AllowedUpdates: []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: "https://h/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 5, Text: "x", AllowPaidBroadcast: true}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if paths[0] != "POST /bot1:tok/getUpdates application/json" {
		t.Errorf("request line = %q", paths[0])
	}
	gu := bodies["getUpdates"]
	if au, ok := gu["allowed_updates"].([]any); !ok || len(au) != 0 || gu["offset"] != float64(9) || gu["limit"] != float64(50) {
		t.Errorf("getUpdates body = %v (an empty AllowedUpdates must be sent as [])", gu)
	}
	if _, ok := bodies["setWebhook"]["allowed_updates"]; ok {
		t.Errorf("setWebhook body = %v: nil AllowedUpdates must be omitted", bodies["setWebhook"])
	}
	sm := bodies["sendMessage"]
	if sm["chat_id"] != float64(5) || sm["allow_paid_broadcast"] != true {
		t.Errorf("sendMessage body = %v", sm)
	}
	if _, ok := sm["parse_mode"]; ok {
		t.Errorf("empty parse_mode must be omitted: %v", sm)
	}
}

func TestClientMalformedResponses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		maxBytes  int64
		wantCode  int
		malformed bool
	}{
		{"200 not json", 200, "<html>ok</html>", 0, 0, true},
		{"200 json without ok", 200, `{"result":true}`, 0, 0, true},
		{"200 result of wrong type", 200, `{"ok":true,"result":"me"}`, 0, 0, true},
		{"too large", 200, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"` + strings.Repeat("x", 200) + `"}}`, 100, 0, true},
		{"503 html", 503, "<html>down</html>", 0, 0, true},
		{"400 ok false alone", 400, `{"ok":false}`, 0, 0, true},
		{"error without error_code", 400, `{"ok":false,"description":"Bad Request: x"}`, 0, 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer ts.Close()
			opts := []telegram.ClientOption{}
			if tc.maxBytes > 0 {
				opts = append(opts, telegram.WithMaxResponseBytes(tc.maxBytes))
			}
			_, err := telegram.NewClient(ts.URL, testToken, opts...).GetMe(testCtx(t))
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("token leaked: %v", err)
			}
			if got := errors.Is(err, telegram.ErrMalformedResponse); got != tc.malformed {
				t.Errorf("Is(ErrMalformedResponse) = %v for %v", got, err)
			}
			var te *telegram.Error
			if tc.wantCode != 0 && (!errors.As(err, &te) || te.Code != tc.wantCode) {
				t.Errorf("err = %v, want code %d", err, tc.wantCode)
			}
		})
	}
}

// TestClientLongPollTimeout checks that getUpdates gets its long-poll
// timeout on top of the request timeout.
func TestClientLongPollTimeout(t *testing.T) {
	srv, _ := newFake(t)
	c := telegram.NewClient(srv.URL(), srv.Token(), telegram.WithRequestTimeout(200*time.Millisecond))
	ctx := testCtx(t)
	go func() {
		// Deliver an update once the poll is waiting, well after the bare
		// request timeout would have expired.
		_ = srv.WaitForCalls(ctx, "getUpdates", 1)
		timer := time.NewTimer(400 * time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
			srv.Start(9, "late", "")
		case <-ctx.Done():
		}
	}()
	ups, err := c.GetUpdates(ctx, telegram.GetUpdatesParams{Timeout: 5})
	if err != nil || len(ups) != 1 {
		t.Fatalf("GetUpdates = %v, %v; want the late update", ups, err)
	}
}
