package delivery

import (
	"maps"
	"sync"
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
}

// statsCounters is the mutable state behind Stats.
type statsCounters struct {
	mu                                       sync.Mutex
	enqueued, duplicates, sent, partsSent    int64
	retries, rateLimited, ambiguous          int64
	fallbacks, migrated, released, leaseLost int64
	failed                                   map[string]int64
}

func (s *statsCounters) add(field *int64, n int64) {
	s.mu.Lock()
	*field += n
	s.mu.Unlock()
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
	defer s.mu.Unlock()
	failed := maps.Clone(s.failed)
	if failed == nil {
		failed = map[string]int64{}
	}
	return Stats{
		Enqueued: s.enqueued, Duplicates: s.duplicates, Sent: s.sent, PartsSent: s.partsSent, Failed: failed,
		Retries: s.retries, RateLimited: s.rateLimited, Ambiguous: s.ambiguous, Fallbacks: s.fallbacks,
		Migrated: s.migrated, Released: s.released, LeaseLost: s.leaseLost,
	}
}
