package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tgnotify/tgnotify/app"
	"github.com/tgnotify/tgnotify/config"
)

// TestStartLogsConfigurationOnceWithoutSecrets starts the service with a
// real-looking bot token, webhook secret and API keys, and checks that it
// logs its configuration exactly once and that no log line quotes a
// secret: not the token, the webhook secret, an API key nor its hash.
func TestStartLogsConfigurationOnceWithoutSecrets(t *testing.T) {
	t.Parallel()
	const (
		token   = "987654:AAFstartupSecretToken"
		hookSec = "startupWebhookSecret"
		apiKey  = "raw-api-key-value"
	)
	sum := sha256.Sum256([]byte(apiKey))
	hash := hex.EncodeToString(sum[:])
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	body := fmt.Sprintf("keys:\n  - name: web\n    sha256: %q\n    scopes: [link, notify]\n", hash)
	if err := os.WriteFile(keys, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"TELEGRAM_BOT_TOKEN":      token,
		"TELEGRAM_API_URL":        "http://127.0.0.1:1", // never reached: Run stops at once
		"TELEGRAM_WEBHOOK_URL":    "https://hook.example.com/tg",
		"TELEGRAM_WEBHOOK_SECRET": hookSec,
		"NOTIFIER_API_KEYS_FILE":  keys,
		"NOTIFIER_SESSION_SECRET": "app-test-session-secret-0123456789abcdef",
		"NOTIFIER_GRPC_ADDR":      "127.0.0.1:0",
		"NOTIFIER_HTTP_ADDR":      "127.0.0.1:0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, zap.New(core))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if n := logs.FilterMessage("configuration").Len(); n != 1 {
		t.Errorf("configuration logged %d times, want once", n)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		for _, secret := range []string{token, "AAFstartupSecretToken", hookSec, apiKey, hash, "app-test-session-secret-0123456789abcdef"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds secret %q: %s", secret, line)
			}
		}
	}
}
