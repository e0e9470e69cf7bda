package app

import (
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/metrics"
)

// eventWebhookStore is what the event webhook uses of the store: its lease
// and cursor, and the event log it pushes. Every bot's store has its own
// (bots.go starts one pusher per bot, posting batches whose events carry
// the bot).
type eventWebhookStore interface {
	webhook.Store
	events.Reader
}

var _ webhook.Observer = (*metrics.EventWebhook)(nil)
