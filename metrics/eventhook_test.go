package metrics

import (
	"strconv"
	"testing"
)

func TestEventWebhookMetrics(t *testing.T) {
	t.Parallel()
	m := New()
	e := m.RegisterEventWebhook(func() float64 { return 42 })
	e.Delivered(100)
	e.Delivered(7)
	e.Failed("500")
	e.Failed("500")
	e.Failed("timeout")
	e.Failed("error")
	e.Failed("garbage")
	e.CursorTooOld()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tgnotify_event_webhook_lag_seconds", nil, 42},
		{"tgnotify_event_webhook_deliveries_total", nil, 2},
		{"tgnotify_event_webhook_events_total", nil, 107},
		{"tgnotify_event_webhook_failures_total", map[string]string{"status": "500"}, 2},
		{"tgnotify_event_webhook_failures_total", map[string]string{"status": "timeout"}, 1},
		{"tgnotify_event_webhook_failures_total", map[string]string{"status": "error"}, 1},
		{"tgnotify_event_webhook_failures_total", map[string]string{"status": "other"}, 1},
		{"tgnotify_event_webhook_cursor_lost_total", nil, 1},
	} {
		if got, ok := value(t, m, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Bounded: many distinct codes end in "other".
	for code := 100; code < 400; code++ {
		e.Failed(strconv.Itoa(code))
	}
	mfs, _ := m.Gatherer().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "tgnotify_event_webhook_failures_total" && len(mf.GetMetric()) > maxWebhookStatuses+1 {
			t.Fatalf("%d status series, want at most %d", len(mf.GetMetric()), maxWebhookStatuses+1)
		}
	}
}
