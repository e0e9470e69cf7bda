package delivery

import "time"

// Observer is told about delivery events, as they happen: the metrics
// feed on it, and tests record it. Methods must be fast and safe for
// concurrent use. Embed [NopObserver] to implement only some of them.
type Observer interface {
	// Accepted: a new notification was enqueued.
	Accepted()
	// Duplicate: an enqueue was answered from an idempotency key.
	Duplicate()
	// PartSent: Telegram accepted one message (a part of a notification
	// or a reply).
	PartSent()
	// Finished: a notification reached SENT ("sent", "") or FAILED
	// ("failed", reason), reason being one of the Reason constants.
	Finished(state, reason string)
	// Retried: a temporary failure (5xx, network, timeout) was scheduled
	// for a retry.
	Retried()
	// Ambiguous: a send whose outcome is unknown (timeout after the
	// request left); it is retried, so it may cause a duplicate.
	Ambiguous()
	// RateLimited: Telegram answered 429 with retry_after.
	RateLimited(retryAfter time.Duration)
	// Fallback: a part is resent as plain text after "can't parse
	// entities".
	Fallback()
	// Migrated: a group → supergroup migration was handled.
	Migrated()
	// LeaseLost: an outcome was discarded because another worker had
	// taken the chat over (the lease expired mid-send).
	LeaseLost()
	// AuthFailed: Telegram rejected the bot itself
	// ([telegram.IsAuthFailure]: the token was revoked, or the Bot API
	// address is wrong), described by reason (Telegram's answer, never the
	// token). Every send of this process is paused; the notification is
	// retried later.
	AuthFailed(reason string)
	// AuthRecovered: a send succeeded after auth failures.
	AuthRecovered()
	// Reply: a bot reply was queued, suppressed (the same reply went to
	// the chat within its interval), sent or failed (one of the Reply
	// constants).
	Reply(outcome string)
}

// States given to [Observer.Finished].
const (
	FinishedSent   = "sent"
	FinishedFailed = "failed"
)

// NopObserver ignores every event; it is the Observer used when none is
// set.
type NopObserver struct{}

var _ Observer = NopObserver{}

func (NopObserver) Accepted()                 {}
func (NopObserver) Duplicate()                {}
func (NopObserver) PartSent()                 {}
func (NopObserver) Finished(string, string)   {}
func (NopObserver) Retried()                  {}
func (NopObserver) Ambiguous()                {}
func (NopObserver) RateLimited(time.Duration) {}
func (NopObserver) Fallback()                 {}
func (NopObserver) Migrated()                 {}
func (NopObserver) LeaseLost()                {}
func (NopObserver) AuthFailed(string)         {}
func (NopObserver) AuthRecovered()            {}
func (NopObserver) Reply(string)              {}

// observerBox holds an Observer in an atomic.Pointer.
type observerBox struct{ o Observer }

// SetObserver makes d report its events to o (nil: none). Call it before
// Run and the first Enqueue; it is nevertheless safe at any time.
func (d *Dispatcher) SetObserver(o Observer) {
	if o == nil {
		o = NopObserver{}
	}
	d.obs.Store(&observerBox{o})
}

// observer returns the current Observer.
func (d *Dispatcher) observer() Observer {
	if b := d.obs.Load(); b != nil {
		return b.o
	}
	return NopObserver{}
}
