package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// maxWebhookStatuses bounds the distinct status labels of
// tgnotify_event_webhook_failures_total.
const maxWebhookStatuses = 32

// EventWebhook records the event webhook's pushes (events/webhook's
// Observer). Create it with [Metrics.RegisterEventWebhook]; its methods
// are safe for concurrent use.
type EventWebhook struct {
	deliveries, events, cursorLost prometheus.Counter
	failures                       *prometheus.CounterVec
	statuses                       *labelGuard
}

// RegisterEventWebhook exposes the event webhook's metrics and returns
// their recorder:
//
//	tgnotify_event_webhook_lag_seconds              age of the oldest event not yet acknowledged (lag, read at each scrape; 0 when caught up)
//	tgnotify_event_webhook_deliveries_total         batches acknowledged (2xx)
//	tgnotify_event_webhook_events_total             events acknowledged
//	tgnotify_event_webhook_failures_total{status}   failed attempts: the HTTP status ("500"), "timeout" or "error"
//	tgnotify_event_webhook_cursor_lost_total        times the stored cursor had left the log (events lost to the receiver)
//
// lag must be fast and safe for concurrent use. Call it at most once (a
// second call panics, as a duplicate registration).
func (m *Metrics) RegisterEventWebhook(lag func() float64) *EventWebhook {
	e := &EventWebhook{
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_webhook_deliveries_total",
			Help: "Event webhook requests the receiver acknowledged (2xx).",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_webhook_events_total",
			Help: "Events the event webhook's receiver acknowledged.",
		}),
		cursorLost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_webhook_cursor_lost_total",
			Help: "Times the event webhook's cursor had left the event log (retention): the events in between were lost to the receiver.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_webhook_failures_total",
			Help: "Failed event webhook attempts, by status: the HTTP status code, timeout or error (transport).",
		}, []string{"status"}),
		statuses: newLabelGuard(maxWebhookStatuses),
	}
	m.reg.MustRegister(e.deliveries, e.events, e.cursorLost, e.failures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "event_webhook_lag_seconds",
			Help: "Age of the oldest event not yet acknowledged by the event webhook's receiver (0 when caught up, and on replicas not pushing).",
		}, lag))
	return e
}

// Delivered counts a batch of n events acknowledged.
func (e *EventWebhook) Delivered(n int) {
	e.deliveries.Inc()
	e.events.Add(float64(n))
}

// Failed counts a failed attempt with status: an HTTP status code,
// "timeout" or "error" (anything else counts as "other").
func (e *EventWebhook) Failed(status string) {
	if status != "timeout" && status != "error" {
		if n, err := strconv.Atoi(status); err != nil || n < 100 || n > 999 {
			status = valueOther
		}
	}
	e.failures.WithLabelValues(e.statuses.value(status)).Inc()
}

// CursorTooOld counts a stored cursor that had left the log.
func (e *EventWebhook) CursorTooOld() { e.cursorLost.Inc() }
