package config

import (
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/store"
)

// EventsConfig configures the event log (issue 11).
type EventsConfig struct {
	// ForwardMessages records the texts linked users write to the bot as
	// MESSAGE_RECEIVED events (NOTIFIER_FORWARD_MESSAGES, default false:
	// the users' words stay out of the log unless the operator opts in).
	ForwardMessages bool
	// Retention is how long the log keeps an event
	// (NOTIFIER_EVENT_RETENTION, 1s to 365 days, default 168h).
	Retention time.Duration
	// MaxEvents is how many events the log keeps at most (about that many
	// on Redis, which trims whole stream nodes; NOTIFIER_EVENT_MAX, 10 to
	// 10^10, default 1,000,000).
	MaxEvents int64
	// Heartbeat is how often an idle WatchEvents stream gets a heartbeat
	// (NOTIFIER_EVENT_HEARTBEAT, 100ms to 5m, default 15s): shorter than
	// the idle timeout of any proxy between the service and its watchers.
	Heartbeat time.Duration
}

// defaultHeartbeat is the 15 s (server.DefaultHeartbeat; config
// does not import the API edge).
const defaultHeartbeat = 15 * time.Second

// events reads the event log's settings; the defaults are the store's
// (store.DefaultEventRetention, store.DefaultEventMaxLen).
func (r *reader) events() EventsConfig {
	fwd, _ := r.boolean("NOTIFIER_FORWARD_MESSAGES")
	return EventsConfig{
		ForwardMessages: fwd,
		Retention:       r.dur("NOTIFIER_EVENT_RETENTION", store.DefaultEventRetention, time.Second, 365*24*time.Hour),
		MaxEvents:       int64(r.num("NOTIFIER_EVENT_MAX", float64(store.DefaultEventMaxLen), 10, 1e10)),
		Heartbeat:       r.dur("NOTIFIER_EVENT_HEARTBEAT", defaultHeartbeat, 100*time.Millisecond, 5*time.Minute),
	}
}

// MarshalLogObject logs the event log's settings.
func (e EventsConfig) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddBool("forward_messages", e.ForwardMessages)
	enc.AddDuration("retention", e.Retention)
	enc.AddInt64("max_events", e.MaxEvents)
	enc.AddDuration("heartbeat", e.Heartbeat)
	return nil
}
