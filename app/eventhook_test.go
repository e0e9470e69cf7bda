package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tgnotify/tgnotify/app"
	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/internal/poll"
)

// TestEventWebhookWired runs the sandbox with NOTIFIER_EVENT_WEBHOOK_URL
// set: a user who links is announced to the receiver by a signed
// USER_LINKED event, and the metrics count it.
func TestEventWebhookWired(t *testing.T) {
	t.Parallel()
	const secret = "app-test-secret-0123456789"
	var mu sync.Mutex
	var got []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig, _ := strings.Cut(r.Header.Get("Tgnotify-Signature"), ",v1=")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(strings.TrimPrefix(ts, "t=") + "."))
		mac.Write(body)
		if !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var b struct{ Events []map[string]any }
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, b.Events...)
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"NOTIFIER_SANDBOX":              "true",
		"NOTIFIER_GRPC_ADDR":            "127.0.0.1:0",
		"NOTIFIER_HTTP_ADDR":            "127.0.0.1:0",
		"NOTIFIER_EVENT_WEBHOOK_URL":    rcv.URL + "/events",
		"NOTIFIER_EVENT_WEBHOOK_SECRET": secret,
		"NOTIFIER_EVENT_WEBHOOK_TYPES":  "USER_LINKED",
	}))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	poll.Eventually(t, 10*time.Second, "the pusher's start", func() bool {
		return logs.FilterMessageSnippet("event webhook newly configured").Len() == 1
	})

	base := "http://" + a.HTTPAddr()
	post := func(path string, body any) map[string]any {
		t.Helper()
		js, _ := json.Marshal(body)
		resp, err := http.Post(base+path, "application/json", bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	poll.Eventually(t, 10*time.Second, "the sandbox bot ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	tok := post("/v1/users/frank/link-token", map[string]any{})
	post("/sandbox/start", map[string]any{"chat_id": 77, "token": tok["token"], "username": "frank"})
	poll.Eventually(t, 10*time.Second, "USER_LINKED pushed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	e := got[0]
	mu.Unlock()
	if e["type"] != "EVENT_TYPE_USER_LINKED" || e["user_id"] != "frank" || e["event_id"] == "" {
		t.Fatalf("event = %v", e)
	}
	poll.Eventually(t, 10*time.Second, "metrics", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "tgnotify_event_webhook_events_total 1") &&
			strings.Contains(string(b), "tgnotify_event_webhook_lag_seconds 0")
	})
}
