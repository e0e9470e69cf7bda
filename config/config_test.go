package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/config"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(config.MapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != ":9090" || c.HTTPAddr != ":8080" || c.APIURL != "https://api.telegram.org" ||
		c.LinkTokenTTL != time.Hour || !c.Sandbox() || c.Webhook() || c.RedisURL != "" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad ttl", map[string]string{"LINK_TOKEN_TTL": "soon"}, "LINK_TOKEN_TTL"},
		{"zero ttl", map[string]string{"LINK_TOKEN_TTL": "0s"}, "LINK_TOKEN_TTL"},
		{"bad grpc addr", map[string]string{"NOTIFIER_GRPC_ADDR": "9090"}, "NOTIFIER_GRPC_ADDR"},
		{"same addrs", map[string]string{"NOTIFIER_GRPC_ADDR": ":1", "NOTIFIER_HTTP_ADDR": ":1"}, "must differ"},
		{"bad redis url", map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{"bad api url", map[string]string{"TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL"},
		{"webhook without secret", map[string]string{"TELEGRAM_WEBHOOK_URL": "https://x.example/telegram/webhook"}, "TELEGRAM_WEBHOOK_SECRET"},
		{"bad secret", map[string]string{"TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET"},
		{"bad username", map[string]string{"TELEGRAM_BOT_USERNAME": "a b"}, "TELEGRAM_BOT_USERNAME"},
		{"bad log level", map[string]string{"NOTIFIER_LOG_LEVEL": "loud"}, "NOTIFIER_LOG_LEVEL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(config.MapLookup(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %s", err, c.want)
			}
		})
	}
}

func TestLoadConfigSecretsNotInErrors(t *testing.T) {
	t.Parallel()
	_, err := config.Load(config.MapLookup(map[string]string{"TELEGRAM_BOT_TOKEN": "123:sec ret", "TELEGRAM_WEBHOOK_SECRET": "bad secret!"}))
	if err == nil || strings.Contains(err.Error(), "sec ret") || strings.Contains(err.Error(), "bad secret!") {
		t.Fatalf("err = %v: must fail without echoing secrets", err)
	}
}
