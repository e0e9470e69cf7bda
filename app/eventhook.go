package app

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/events/wire"
	"github.com/tgnotify/tgnotify/metrics"
)

// eventWebhookStore is what the event webhook uses of the store: its lease
// and cursor, and the event log it pushes.
type eventWebhookStore interface {
	webhook.Store
	events.Reader
}

var _ webhook.Observer = (*metrics.EventWebhook)(nil)

// newEventWebhook returns a function that pushes the event log to
// NOTIFIER_EVENT_WEBHOOK_URL (in the one replica holding the pusher's
// lease) until ctx ends, counted by the tgnotify_event_webhook_* metrics;
// without the URL it returns a function that does nothing.
func (a *App) newEventWebhook(st eventWebhookStore) (run func(ctx context.Context, wg *sync.WaitGroup), err error) {
	cfg := a.cfg.EventWebhook
	if !cfg.Enabled() {
		return func(context.Context, *sync.WaitGroup) {}, nil
	}
	var p *webhook.Pusher
	rec := a.metrics.RegisterEventWebhook(func() float64 { return p.Lag().Seconds() })
	p, err = webhook.New(cfg, st, st, wire.MarshalBatch, a.log.Named("event_webhook"), webhook.WithObserver(rec))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, wg *sync.WaitGroup) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				a.log.Error("event webhook stopped", zap.Error(err))
			}
		}()
	}, nil
}
