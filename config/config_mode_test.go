package config_test

import (
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/config"
)

// TestLoadConfigSandboxAndOpenAPI covers when the sandbox may start by
// itself, when a missing or contradictory bot token refuses to start, and
// when a real bot may serve an open API (issue 8, findings 3 and 6).
func TestLoadConfigSandboxAndOpenAPI(t *testing.T) {
	t.Parallel()
	const token = "123456:ABC-real"
	cases := []struct {
		name    string
		env     map[string]string
		sandbox bool     // the configuration loads and runs the sandbox
		wantErr []string // the configuration is refused with all of these
	}{
		{name: "nothing set", env: nil, sandbox: true},
		{name: "only local settings", env: map[string]string{"NOTIFIER_HTTP_ADDR": ":8081", "NOTIFIER_LOG_FORMAT": "console"}, sandbox: true},
		{name: "compose: empty token beside redis", env: map[string]string{"REDIS_URL": "redis://redis:6379/0", "TELEGRAM_BOT_TOKEN": ""},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "REDIS_URL"}},
		{name: "redis without token", env: map[string]string{"REDIS_URL": "redis://localhost:6379/0"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "REDIS_URL", "NOTIFIER_SANDBOX"}},
		{name: "keys file without token", env: map[string]string{"NOTIFIER_API_KEYS_FILE": "/etc/keys.yaml"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "NOTIFIER_API_KEYS_FILE"}},
		{name: "webhook url without token", env: map[string]string{"TELEGRAM_WEBHOOK_URL": "https://x.example/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": "s"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL"}},
		{name: "api url without token", env: map[string]string{"TELEGRAM_API_URL": "https://api.telegram.org"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL"}},
		{name: "username without token", env: map[string]string{"TELEGRAM_BOT_USERNAME": "my_bot"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME"}},
		{name: "empty token alone", env: map[string]string{"TELEGRAM_BOT_TOKEN": " "},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "empty"}},
		{name: "empty optional telegram settings stay the sandbox", env: map[string]string{"TELEGRAM_WEBHOOK_URL": "", "TELEGRAM_BOT_USERNAME": ""}, sandbox: true},
		{name: "explicit sandbox beside redis", env: map[string]string{"NOTIFIER_SANDBOX": "true", "REDIS_URL": "redis://localhost:6379/0", "TELEGRAM_WEBHOOK_SECRET": "s"}, sandbox: true},
		{name: "explicit sandbox with a token", env: map[string]string{"NOTIFIER_SANDBOX": "true", "TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true"},
			wantErr: []string{"NOTIFIER_SANDBOX", "TELEGRAM_BOT_TOKEN"}},
		{name: "sandbox off without a token", env: map[string]string{"NOTIFIER_SANDBOX": "false"},
			wantErr: []string{"TELEGRAM_BOT_TOKEN", "NOTIFIER_SANDBOX"}},
		{name: "sandbox off with a token", env: map[string]string{"NOTIFIER_SANDBOX": "false", "TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true"}},
		{name: "bad sandbox boolean", env: map[string]string{"NOTIFIER_SANDBOX": "yes please"},
			wantErr: []string{"NOTIFIER_SANDBOX"}},
		{name: "real bot without keys file", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "REDIS_URL": "redis://localhost:6379/0"},
			wantErr: []string{"NOTIFIER_API_KEYS_FILE", "NOTIFIER_ALLOW_OPEN_API"}},
		{name: "real bot, open API on purpose", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true"}},
		{name: "real bot, open API refused explicitly", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "false"},
			wantErr: []string{"NOTIFIER_API_KEYS_FILE", "NOTIFIER_ALLOW_OPEN_API"}},
		{name: "real bot with keys file", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_API_KEYS_FILE": "/etc/keys.yaml",
			"NOTIFIER_SESSION_SECRET": strings.Repeat("s", 32)}},
		{name: "keys file without session secret", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_API_KEYS_FILE": "/etc/keys.yaml"},
			wantErr: []string{"NOTIFIER_SESSION_SECRET"}},
		{name: "short session secret", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_API_KEYS_FILE": "/etc/keys.yaml",
			"NOTIFIER_SESSION_SECRET": strings.Repeat("s", 31)}, wantErr: []string{"NOTIFIER_SESSION_SECRET", "32"}},
		{name: "bad open-api boolean", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_API_KEYS_FILE": "/k", "NOTIFIER_ALLOW_OPEN_API": "sure"},
			wantErr: []string{"NOTIFIER_ALLOW_OPEN_API"}},
		{name: "webhook addr", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true", "NOTIFIER_WEBHOOK_ADDR": ":8443"}},
		{name: "bad webhook addr", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true", "NOTIFIER_WEBHOOK_ADDR": "8443"},
			wantErr: []string{"NOTIFIER_WEBHOOK_ADDR"}},
		{name: "webhook addr same as http", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true", "NOTIFIER_WEBHOOK_ADDR": ":8080"},
			wantErr: []string{"NOTIFIER_WEBHOOK_ADDR", "NOTIFIER_HTTP_ADDR"}},
		{name: "webhook addr same as grpc", env: map[string]string{"TELEGRAM_BOT_TOKEN": token, "NOTIFIER_ALLOW_OPEN_API": "true", "NOTIFIER_WEBHOOK_ADDR": ":9090"},
			wantErr: []string{"NOTIFIER_WEBHOOK_ADDR", "NOTIFIER_GRPC_ADDR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Load(config.MapLookup(c.env))
			if len(c.wantErr) > 0 {
				if err == nil {
					t.Fatalf("loaded (sandbox=%v), want an error naming %v", cfg.Sandbox(), c.wantErr)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to name %s", err, w)
					}
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("err = %v echoes the bot token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want the configuration to load", err)
			}
			if cfg.Sandbox() != c.sandbox {
				t.Fatalf("Sandbox() = %v, want %v", cfg.Sandbox(), c.sandbox)
			}
		})
	}
}

// TestLoadConfigUnknownTelegramVariable: a TELEGRAM_* variable the service
// does not read (a typo such as TELEGRAM_BOT_TOKN) still says "production",
// when the caller lists the environment's names.
func TestLoadConfigUnknownTelegramVariable(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TELEGRAM_BOT_TOKN": "123:abc", "NOTIFIER_LOG_LEVEL": "info"}
	names := []string{"TELEGRAM_BOT_TOKN", "NOTIFIER_LOG_LEVEL"}
	_, err := config.LoadFrom(config.MapLookup(env), names)
	if err == nil || !strings.Contains(err.Error(), "TELEGRAM_BOT_TOKEN") || !strings.Contains(err.Error(), "TELEGRAM_BOT_TOKN") {
		t.Fatalf("err = %v, want a refusal naming TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_TOKN", err)
	}
	if strings.Contains(err.Error(), "123:abc") {
		t.Fatalf("err = %v echoes the value", err)
	}
	cfg, err := config.LoadFrom(config.MapLookup(map[string]string{"TELEGRAM_EMPTY": ""}), []string{"TELEGRAM_EMPTY"})
	if err != nil || !cfg.Sandbox() {
		t.Fatalf("an empty unknown TELEGRAM_* variable: cfg.Sandbox()=%v err=%v, want the sandbox", cfg.Sandbox(), err)
	}
}

// TestLoadConfigWebhookAddr: NOTIFIER_WEBHOOK_ADDR is read into the config.
func TestLoadConfigWebhookAddr(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"TELEGRAM_BOT_TOKEN": "1:a", "NOTIFIER_ALLOW_OPEN_API": "true", "NOTIFIER_WEBHOOK_ADDR": " :8443 ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookAddr != ":8443" || !cfg.AllowOpenAPI {
		t.Fatalf("WebhookAddr=%q AllowOpenAPI=%v", cfg.WebhookAddr, cfg.AllowOpenAPI)
	}
}
