package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/internal/freeport"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestWebhookHandler(t *testing.T) {
	const secret = "s3cret-Token_1"
	okBody := `{"update_id":77,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"/start x"}}`
	tests := []struct {
		name       string
		secret     string // handler's configured secret
		method     string
		header     *string
		body       string
		handlerErr error
		wantStatus int
		wantCalled bool
	}{
		{name: "success", method: "POST", header: ptr(secret), body: okBody, wantStatus: 200, wantCalled: true},
		{name: "GET", method: "GET", header: ptr(secret), body: okBody, wantStatus: 405},
		{name: "no secret header", method: "POST", body: okBody, wantStatus: 401},
		{name: "wrong secret", method: "POST", header: ptr("s3cret-Token_2"), body: okBody, wantStatus: 401},
		{name: "secret prefix", method: "POST", header: ptr("s3cret"), body: okBody, wantStatus: 401},
		{name: "empty configured secret", secret: "-", method: "POST", header: ptr(""), body: okBody, wantStatus: 401},
		{name: "oversized body", method: "POST", header: ptr(secret),
			body: `{"update_id":1,"message":{"text":"` + strings.Repeat("a", 2<<20) + `"}}`, wantStatus: 413},
		{name: "garbage", method: "POST", header: ptr(secret), body: "not json{", wantStatus: 400},
		{name: "json array", method: "POST", header: ptr(secret), body: `[1,2]`, wantStatus: 400},
		{name: "no update_id", method: "POST", header: ptr(secret), body: `{"message":{"text":"x"}}`, wantStatus: 400},
		{name: "handler fails", method: "POST", header: ptr(secret), body: okBody, handlerErr: errors.New("store down"),
			wantStatus: 500, wantCalled: true},
		{name: "unknown update kind", method: "POST", header: ptr(secret),
			body: `{"update_id":78,"callback_query":{"id":"1"}}`, wantStatus: 200, wantCalled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			var got telegram.Update
			h := telegram.UpdateHandlerFunc(func(_ context.Context, u telegram.Update) error {
				called, got = true, u
				return tc.handlerErr
			})
			cfg := secret
			if tc.secret == "-" {
				cfg = ""
			}
			core, logs := observer.New(zap.DebugLevel)
			wh := telegram.NewWebhookHandler(cfg, h, telegram.WithLogger(zap.New(core)))
			req := httptest.NewRequest(tc.method, "/telegram/webhook", strings.NewReader(tc.body))
			if tc.header != nil {
				req.Header.Set(telegram.SecretTokenHeader, *tc.header)
			}
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			if called != tc.wantCalled {
				t.Errorf("handler called = %v, want %v", called, tc.wantCalled)
			}
			if tc.wantStatus == 200 {
				if rec.Body.String() != "{}" || got.UpdateID == 0 {
					t.Errorf("body %q, update %+v", rec.Body.String(), got)
				}
			}
			for _, e := range logs.All() {
				for _, f := range e.Context {
					if strings.Contains(f.String, secret) {
						t.Errorf("secret logged: %v", e)
					}
				}
			}
		})
	}
}

func TestWebhookHandlerMaxBody(t *testing.T) {
	wh := telegram.NewWebhookHandler("x", telegram.UpdateHandlerFunc(func(context.Context, telegram.Update) error { return nil }),
		telegram.WithMaxBodyBytes(10))
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"update_id":1}`))
	req.Header.Set(telegram.SecretTokenHeader, "x")
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", rec.Code)
	}
}

// TestFakeWebhookPush runs the fake's webhook delivery against the real
// handler: secret header, retries of the same update after failures, order.
func TestFakeWebhookPush(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	const secret = "push-Secret_42"
	rec := newRecorder()
	var first int64
	ts := httptest.NewServer(telegram.NewWebhookHandler(secret, rec))
	defer ts.Close()

	u := srv.Start(10, "alice", "TOKEN")
	first = u.UpdateID
	rec.mu.Lock()
	rec.fail[first] = 2 // answered 500 twice, then handled
	rec.mu.Unlock()
	srv.SendText(10, "alice", "/stop")
	srv.Block(10)

	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: ts.URL + "/hook", SecretToken: secret}); err != nil {
		t.Fatal(err)
	}
	got := rec.waitHandled(t, ctx, 3)
	if err := srv.WaitForPending(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got[0] != first || got[1] != first+1 || got[2] != first+2 {
		t.Errorf("handled %v, want %d.. in order", got, first)
	}
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	if calls != 5 {
		t.Errorf("handler calls = %d, want 5 (2 failures + 3)", calls)
	}
	wi, err := c.GetWebhookInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if wi.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" || wi.LastErrorDate == 0 {
		t.Errorf("webhook info = %+v", wi)
	}
}

func TestFakeWebhookWrongSecretAndDeadEndpoint(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	rec := newRecorder()
	ts := httptest.NewServer(telegram.NewWebhookHandler("right", rec))
	defer ts.Close()
	srv.Start(11, "bob", "")

	tests := []struct {
		name    string
		url     string
		secret  string
		wantErr string
	}{
		{"wrong secret", ts.URL, "wrong", "Wrong response from the webhook: 401 Unauthorized"},
		{"connection refused", deadURL(t), "right", "Connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: tc.url, SecretToken: tc.secret}); err != nil {
				t.Fatal(err)
			}
			wi, err := srv.WaitForWebhookInfo(ctx, func(wi telegram.WebhookInfo) bool {
				return wi.LastErrorMessage == tc.wantErr
			})
			if err != nil {
				t.Fatal(err)
			}
			if wi.PendingUpdateCount != 1 || wi.LastErrorDate == 0 {
				t.Errorf("webhook info = %+v, want the update kept pending", wi)
			}
			if len(rec.handled()) != 0 {
				t.Errorf("handler ran despite the failure")
			}
		})
	}
	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: ts.URL, SecretToken: "right"}); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, ctx, 1)
}

func ptr[T any](v T) *T { return &v }

func deadURL(t *testing.T) string {
	t.Helper()
	return "http://" + freeport.MustAddr(t) + "/hook" // nothing listens there
}
