package config_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/delivery"
)

// logLine renders cfg as the app logs it at start: one JSON line.
func logLine(t *testing.T, cfg config.Config) string {
	t.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	buf, err := enc.EncodeEntry(zapcore.Entry{Message: "configuration"}, []zapcore.Field{zap.Object("config", cfg)})
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestConfigLogMasksSecrets: the logged configuration holds no bot token,
// webhook secret or Redis password, whichever URL form carries it.
func TestConfigLogMasksSecrets(t *testing.T) {
	t.Parallel()
	const (
		token     = "123456:AAHsecretTokenPart_x-y"
		hookSec   = "whSecretValue42"
		redisPass = "r3disPa55word"
		sessSec   = "sessionSecret-0123456789abcdef-0123456789"
	)
	base := map[string]string{
		"TELEGRAM_BOT_TOKEN":      token,
		"TELEGRAM_WEBHOOK_URL":    "https://hook.example.com/tg/" + token,
		"TELEGRAM_WEBHOOK_SECRET": hookSec,
		"NOTIFIER_API_KEYS_FILE":  "/etc/tgnotify/keys.yaml",
		"NOTIFIER_SESSION_SECRET": sessSec,
	}
	urls := map[string]string{
		"user and password": "redis://app:" + redisPass + "@redis:6379/0",
		"password only":     "rediss://:" + redisPass + "@redis:6380",
		"sentinel":          "redis-sentinel://:" + redisPass + "@s1:26379,s2:26379/mymaster?sentinel_password=" + redisPass,
		"cluster":           "redis-cluster://u:" + redisPass + "@c1:6379,c2:6379",
	}
	for name, redisURL := range urls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"REDIS_URL": redisURL}
			for k, v := range base {
				env[k] = v
			}
			cfg, err := config.Load(config.MapLookup(env))
			if err != nil {
				t.Fatal(err)
			}
			line := logLine(t, cfg)
			for _, secret := range []string{token, "AAHsecretTokenPart", hookSec, redisPass, sessSec} {
				if strings.Contains(line, secret) {
					t.Errorf("log line holds secret %q: %s", secret, line)
				}
			}
			for _, want := range []string{`"bot_token":"123456:xxxxx"`, `"webhook_secret":"xxxxx"`, `"api_keys_file":"/etc/tgnotify/keys.yaml"`, `"session_secret":"xxxxx"`, `xxxxx@`} {
				if !strings.Contains(line, want) {
					t.Errorf("log line lacks %s: %s", want, line)
				}
			}
		})
	}
}

// TestConfigLogEffectiveDefaults: the log shows the values the service
// runs with, the delivery engine's defaults included.
func TestConfigLogEffectiveDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(map[string]string{"NOTIFIER_LEASE_TIMEOUT": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	line := logLine(t, cfg)
	// A lease under 3× the send timeout is raised to it, as delivery does.
	for _, want := range []string{`"send_timeout":5`, `"lease_timeout":15`, `"sandbox":true`, `"max_queued":1000000`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("want one line, got %q", line)
	}
}

// TestDefaultsAreTheDeliveryEngines: the service's defaults for the
// engine are delivery.DefaultConfig's, one source (15 s lease, 5 s send
// timeout, as the service has always run).
func TestDefaultsAreTheDeliveryEngines(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := delivery.DefaultConfig()
	if d.LeaseTimeout != 15*time.Second || d.SendTimeout != 5*time.Second {
		t.Fatalf("delivery.DefaultConfig: lease %v, send timeout %v; want 15s, 5s", d.LeaseTimeout, d.SendTimeout)
	}
	got := cfg.Delivery
	if got.LeaseTimeout != d.LeaseTimeout || got.SendTimeout != d.SendTimeout || cfg.SendTimeout != d.SendTimeout ||
		got.Workers != d.Workers || got.GlobalRate != d.GlobalRate || got.PrivateChatInterval != d.PrivateChatInterval ||
		got.GroupChatInterval != d.GroupChatInterval || got.MaxAttempts != d.MaxAttempts || got.Retention != d.Retention {
		t.Fatalf("config defaults %+v differ from delivery.DefaultConfig %+v", got, d)
	}
}
