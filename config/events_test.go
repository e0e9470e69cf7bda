package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/server"
	"github.com/tgnotify/tgnotify/store"
)

func TestEventsConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Events; e.ForwardMessages || e.Retention != store.DefaultEventRetention || e.MaxEvents != store.DefaultEventMaxLen ||
		e.Heartbeat != server.DefaultHeartbeat {
		t.Fatalf("defaults = %+v; want forwarding off and the store's and server's defaults", e)
	}
	if store.DefaultEventRetention != 168*time.Hour || store.DefaultEventMaxLen != 1_000_000 || server.DefaultHeartbeat != 15*time.Second {
		t.Fatal("the issue's defaults are 168h, 1000000 events and a 15 s heartbeat")
	}
	line := logLine(t, cfg)
	for _, want := range []string{`"events":{"forward_messages":false,"retention":604800,"max_events":1000000,"heartbeat":15}`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	cfg, err = config.Load(config.MapLookup(map[string]string{
		"NOTIFIER_FORWARD_MESSAGES": "true", "NOTIFIER_EVENT_RETENTION": "2h", "NOTIFIER_EVENT_MAX": "5000"}))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Events; !e.ForwardMessages || e.Retention != 2*time.Hour || e.MaxEvents != 5000 {
		t.Fatalf("set = %+v", e)
	}
}

func TestEventsConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, key, val string }{
		{"forward not a bool", "NOTIFIER_FORWARD_MESSAGES", "yes please"},
		{"retention not a duration", "NOTIFIER_EVENT_RETENTION", "a week"},
		{"retention too short", "NOTIFIER_EVENT_RETENTION", "1ms"},
		{"retention too long", "NOTIFIER_EVENT_RETENTION", "9000h"},
		{"max too small", "NOTIFIER_EVENT_MAX", "1"},
		{"max not a number", "NOTIFIER_EVENT_MAX", "many"},
		{"heartbeat too short", "NOTIFIER_EVENT_HEARTBEAT", "1ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(config.MapLookup(map[string]string{tc.key: tc.val}))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
	}
}
