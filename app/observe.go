package app

import (
	"context"
	"sync"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/metrics"
)

// deliveryMetrics reports delivery events to Prometheus.
type deliveryMetrics struct{ m *metrics.Metrics }

var _ delivery.Observer = deliveryMetrics{}

func (o deliveryMetrics) Accepted() { o.m.NotificationAccepted() }

func (o deliveryMetrics) Finished(state, reason string) {
	o.m.NotificationFinished(state, reason)
	if reason == delivery.ReasonBlocked {
		o.m.Unlinked("send_blocked")
	}
}

func (o deliveryMetrics) Ambiguous() { o.m.AmbiguousSend() }

func (o deliveryMetrics) Reply(outcome string) { o.m.BotReply(outcome) }

func (o deliveryMetrics) RateLimited(retryAfter time.Duration) { o.m.RetryAfter(retryAfter.Seconds()) }

// AuthFailed counts a send rejected with 401/404 (readiness reads
// Dispatcher.AuthFailure).
func (o deliveryMetrics) AuthFailed(string) { o.m.TelegramAuthFailure("sendMessage") }

func (o deliveryMetrics) AuthRecovered() {}

// Events without a metric of their own.
func (deliveryMetrics) Duplicate() {}
func (deliveryMetrics) PartSent()  {}
func (deliveryMetrics) Retried()   {}
func (deliveryMetrics) Fallback()  {}
func (deliveryMetrics) Migrated()  {}
func (deliveryMetrics) LeaseLost() {}

// backlogGauges serves the queue-depth and oldest-age gauges from one
// store read per second at most, however often /metrics is scraped.
type backlogGauges struct {
	bots []*botStack

	mu      sync.Mutex
	at      time.Time
	depth   float64
	oldestS float64
}

func (g *backlogGauges) read() (float64, float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.at) < time.Second {
		return g.depth, g.oldestS
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var (
		depth  int64
		oldest time.Time
	)
	for _, s := range g.bots {
		d, o, err := s.disp.Backlog(ctx)
		if err != nil {
			g.at = time.Now()
			return g.depth, g.oldestS // keep the last reading; the Redis error is counted
		}
		depth += d
		if !o.IsZero() && (oldest.IsZero() || o.Before(oldest)) {
			oldest = o
		}
	}
	g.at = time.Now()
	g.depth, g.oldestS = float64(depth), 0
	if !oldest.IsZero() {
		g.oldestS = time.Since(oldest).Seconds()
	}
	return g.depth, g.oldestS
}

func (g *backlogGauges) register(m *metrics.Metrics) {
	m.RegisterQueueGauges(
		func() float64 { d, _ := g.read(); return d },
		func() float64 { _, o := g.read(); return o },
	)
}
