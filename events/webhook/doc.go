// Package webhook pushes the event log to the application: a [Pusher]
// POSTs the events, in cursor order, to NOTIFIER_EVENT_WEBHOOK_URL as JSON
// ({"events":[…]}, up to [BatchSize] per request), signed with
// NOTIFIER_EVENT_WEBHOOK_SECRET in the [SignatureHeader] header:
//
//	Tgnotify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The main call, from app/:
//
//	p, err := webhook.New(cfg.EventWebhook, eventLog, st, wire.MarshalBatch, log)
//	go p.Run(ctx) // until ctx ends
//
// # Delivery
//
// Exactly one replica pushes at a time: Run takes the store's named lease
// [LeaseName] (like the Telegram poller's), renews it, and stops pushing
// before the lease could expire when it cannot renew it. The cursor after
// the last acknowledged batch is kept in the store, written only under
// the lease (fenced), so a replica that lost the lease cannot move it.
//
// A 2xx answer acknowledges the batch: the stored cursor advances to the
// batch's next cursor. Anything else (another status, a redirect, a
// transport error, no answer within [RequestTimeout]) is retried with
// exponential backoff with jitter from [MinBackoff] up to [MaxBackoff]
// (package retry's policy), the same batch again, never skipping ahead.
// Each attempt is signed anew (a fresh t). At most [MaxResponseRead] bytes
// of an answer are read, and discarded.
//
// Delivery is at-least-once: a crash (or a lost lease) while a batch is
// in flight sends that batch again from the stored cursor. Receivers
// de-duplicate by event_id. A shutdown (Run's context ending) lets a
// request in flight finish, within RequestTimeout, and stores its cursor
// before Run returns; it starts no new attempt.
//
// # Where it starts, and retention
//
// A newly configured webhook (no cursor stored yet) starts with the events
// appended after it was first configured: the first Run stores the log's
// current tail (reading forward to the end; [events.Reader] has no tail
// call) and pushes what follows. The stored cursor then persists across
// restarts and URL changes; delete <prefix>:evhook:cursor to start afresh.
//
// Events are retried for as long as the log retains them. When the stored
// cursor has fallen out of the log (a receiver down for longer than
// NOTIFIER_EVENT_RETENTION), the events in between are lost to the
// receiver: the pusher logs it as an error, counts it
// ([Observer.CursorTooOld]) and continues from the oldest retained event.
// A malformed stored cursor is handled the same way. The log cannot tell
// a cursor naming the last entry it trimmed from one that lost entries;
// when the pusher was caught up at that cursor (a quiet log whose last
// entry aged out as a new one came) nothing was lost, and it says so at
// info level instead.
//
// # Observing
//
// [Pusher.Lag] is the age of the oldest event not yet acknowledged (0 when
// caught up, and on a replica not holding the lease);
// [Observer] counts deliveries and failures (the app wires both to
// tgnotify_event_webhook_* metrics).
package webhook
