package delivery

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are counters of one Dispatcher since it was created, for metrics.
type Stats struct {
	// Enqueued counts accepted notifications; Duplicates the Enqueue calls
	// answered from an idempotency key.
	Enqueued, Duplicates int64
	// Sent counts notifications whose every part was sent; PartsSent the
	// messages sent.
	Sent, PartsSent int64
	// Failed counts notifications FAILED by this process, by reason.
	Failed map[string]int64
	// Retries counts temporary failures scheduled for a retry.
	Retries int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// Ambiguous counts sends whose outcome is unknown (timeout or
	// connection cut after the request may have reached Telegram); they are
	// retried, so each may have caused a duplicate.
	Ambiguous int64
	// Fallbacks counts parts resent as plain text after "can't parse
	// entities".
	Fallbacks int64
	// Migrated counts group → supergroup migrations handled.
	Migrated int64
	// Released counts claims given back unsent (pause, store errors,
	// shutdown).
	Released int64
	// LeaseLost counts outcomes discarded because another worker had taken
	// the chat over (the lease expired mid-send).
	LeaseLost int64
	// AuthFailures counts sends answered with an auth failure
	// (telegram.IsAuthFailure); they pause all sends and are retried.
	AuthFailures int64
}

// Observer is told about delivery events (for metrics). Methods must be
// fast and safe for concurrent use; they are called at the same points as
// the matching [Stats] counters are incremented.
type Observer interface {
	// Accepted: a new notification was enqueued (not a duplicate).
	Accepted()
	// Finished: a notification reached SENT ("sent", "") or FAILED
	// ("failed", reason), reason being one of the Reason constants.
	Finished(state, reason string)
	// Ambiguous: a send whose outcome is unknown (timeout after the
	// request left); it is retried.
	Ambiguous()
	// RateLimited: Telegram answered 429 with retry_after.
	RateLimited(retryAfter time.Duration)
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

// nopObserver is the Observer used when none is set.
type nopObserver struct{}

func (nopObserver) Accepted()                 {}
func (nopObserver) Finished(string, string)   {}
func (nopObserver) Ambiguous()                {}
func (nopObserver) RateLimited(time.Duration) {}
func (nopObserver) Reply(string)              {}

// observerBox holds an Observer in an atomic.Pointer.
type observerBox struct{ o Observer }

// SetObserver makes d report its events to o (nil: none). Call it before
// Run and the first Enqueue; it is nevertheless safe at any time.
func (d *Dispatcher) SetObserver(o Observer) {
	if o == nil {
		o = nopObserver{}
	}
	d.obs.Store(&observerBox{o})
}

// observer returns the current Observer.
func (d *Dispatcher) observer() Observer {
	if b := d.obs.Load(); b != nil {
		return b.o
	}
	return nopObserver{}
}

// statsCounters is the mutable state behind Stats.
type statsCounters struct {
	enqueued, duplicates, sent, partsSent    atomic.Int64
	retries, rateLimited, ambiguous          atomic.Int64
	fallbacks, migrated, released, leaseLost atomic.Int64
	authFailures                             atomic.Int64

	mu     sync.Mutex
	failed map[string]int64
}

func (s *statsCounters) fail(reason string) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = make(map[string]int64)
	}
	s.failed[reason]++
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() Stats {
	s := &d.stats
	s.mu.Lock()
	failed := maps.Clone(s.failed)
	s.mu.Unlock()
	if failed == nil {
		failed = map[string]int64{}
	}
	return Stats{
		Enqueued: s.enqueued.Load(), Duplicates: s.duplicates.Load(), Sent: s.sent.Load(),
		PartsSent: s.partsSent.Load(), Failed: failed, Retries: s.retries.Load(),
		RateLimited: s.rateLimited.Load(), Ambiguous: s.ambiguous.Load(), Fallbacks: s.fallbacks.Load(),
		Migrated: s.migrated.Load(), Released: s.released.Load(), LeaseLost: s.leaseLost.Load(),
		AuthFailures: s.authFailures.Load(),
	}
}
