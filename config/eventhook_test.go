package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/events"
)

const evSecret = "0123456789abcdef0123456789abcdef"

func TestEventWebhookConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"NOTIFIER_EVENT_WEBHOOK_URL":    " https://app.example.com/tgnotify/events ",
		"NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret,
		"NOTIFIER_EVENT_WEBHOOK_TYPES":  "USER_LINKED, event_type_notification_failed,,USER_LINKED",
	}))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.EventWebhook
	if !w.Enabled() || w.URL != "https://app.example.com/tgnotify/events" || w.Secret != evSecret ||
		!slices.Equal(w.Types, []events.Type{events.TypeUserLinked, events.TypeNotificationFailed}) {
		t.Fatalf("EventWebhook = %+v", w)
	}
	def, err := config.Load(config.MapLookup(nil))
	if err != nil || def.EventWebhook.Enabled() || def.EventWebhook.Types != nil {
		t.Fatalf("default EventWebhook = %+v, %v; want off, every type", def.EventWebhook, err)
	}
}

func TestEventWebhookConfigRefused(t *testing.T) {
	t.Parallel()
	url := "https://app.example.com/hook"
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"url without secret", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": url}, "NOTIFIER_EVENT_WEBHOOK_SECRET: required"},
		{"ftp url", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": "ftp://app.example.com/hook", "NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret}, "NOTIFIER_EVENT_WEBHOOK_URL"},
		{"no host", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": "https:///hook", "NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret}, "NOTIFIER_EVENT_WEBHOOK_URL"},
		{"not a url", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": "app.example.com/hook", "NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret}, "NOTIFIER_EVENT_WEBHOOK_URL"},
		{"short secret", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": url, "NOTIFIER_EVENT_WEBHOOK_SECRET": "short"}, "NOTIFIER_EVENT_WEBHOOK_SECRET: want 16"},
		{"unknown type", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": url, "NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret, "NOTIFIER_EVENT_WEBHOOK_TYPES": "USER_LINKED,USER_EXPLODED"}, `"USER_EXPLODED"`},
		{"unspecified type", map[string]string{"NOTIFIER_EVENT_WEBHOOK_URL": url, "NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret, "NOTIFIER_EVENT_WEBHOOK_TYPES": "UNSPECIFIED"}, "NOTIFIER_EVENT_WEBHOOK_TYPES"},
		{"secret without url", map[string]string{"NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret}, "need NOTIFIER_EVENT_WEBHOOK_URL"},
		{"types without url", map[string]string{"NOTIFIER_EVENT_WEBHOOK_TYPES": "USER_LINKED"}, "need NOTIFIER_EVENT_WEBHOOK_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(config.MapLookup(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %s", err, c.want)
			}
			if s := c.env["NOTIFIER_EVENT_WEBHOOK_SECRET"]; s != "" && strings.Contains(err.Error(), s) {
				t.Fatalf("err = %v quotes the secret", err)
			}
			if u := c.env["NOTIFIER_EVENT_WEBHOOK_URL"]; u != "" && strings.Contains(err.Error(), u) {
				t.Fatalf("err = %v quotes the URL", err)
			}
		})
	}
}

func TestEventWebhookConfigLogMasked(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"NOTIFIER_EVENT_WEBHOOK_URL":    "https://user:pw-in-url@app.example.com/hook?token=tok-in-query&x=1",
		"NOTIFIER_EVENT_WEBHOOK_SECRET": evSecret,
		"NOTIFIER_EVENT_WEBHOOK_TYPES":  "BUTTON_PRESSED",
	}))
	if err != nil {
		t.Fatal(err)
	}
	line := logLine(t, cfg)
	for _, secret := range []string{evSecret, "pw-in-url", "tok-in-query"} {
		if strings.Contains(line, secret) {
			t.Errorf("log line quotes %q: %s", secret, line)
		}
	}
	for _, want := range []string{`"event_webhook":{`, `app.example.com/hook`, `"secret":"xxxxx"`, `"types":"BUTTON_PRESSED"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
}
