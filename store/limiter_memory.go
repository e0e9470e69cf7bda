package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryLimiter is the in-process counterpart of [RedisLimiter]: GCRA rate
// limits and a pause switch with the same semantics, for one process.
// Create it with [NewMemoryLimiter].
type MemoryLimiter struct {
	clock func() time.Time

	mu     sync.Mutex
	tats   map[string]time.Time
	paused time.Time
}

// NewMemoryLimiter returns a limiter reading the time from now (time.Now
// when nil).
func NewMemoryLimiter(now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{clock: now, tats: make(map[string]time.Time)}
}

// Acquire checks the pause and takes a slot in one step, bounded by maxWait, with the
// semantics of [RedisLimiter.Acquire]: paused > 0 while a pause is in
// force; wait > maxWait (no slot taken) when the next slot is further
// away; else the slot is taken and wait <= maxWait.
func (l *MemoryLimiter) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("store: rate limit: %w: %w", ErrUnavailable, err)
	}
	T, tau, err := gcraParams(rate, burst)
	if err != nil {
		return 0, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if p := l.paused.Sub(now); p > 0 {
		return 0, p, nil
	}
	if w := l.waitLocked(now, name, tau); w > max(maxWait, 0) {
		return w, 0, nil
	}
	return l.reserveLocked(now, name, T, tau), 0, nil
}

// waitLocked is how long the next slot of name is away (tolerance tau µs),
// without taking it.
func (l *MemoryLimiter) waitLocked(now time.Time, name string, tau int64) time.Duration {
	tat := l.tats[name]
	if tat.Before(now) {
		tat = now
	}
	return max(tat.Add(-time.Duration(tau)*time.Microsecond).Sub(now), 0)
}

// reserveLocked takes a GCRA slot (interval T, tolerance tau in µs).
func (l *MemoryLimiter) reserveLocked(now time.Time, name string, T, tau int64) time.Duration {
	interval, tolerance := time.Duration(T)*time.Microsecond, time.Duration(tau)*time.Microsecond
	tat := l.tats[name]
	if tat.Before(now) {
		tat = now
	}
	at := tat.Add(-tolerance)
	if at.Before(now) {
		at = now
	}
	l.tats[name] = tat.Add(interval)
	return at.Sub(now)
}

// Pause makes Acquire and the claims report a pause of at least d (a
// longer pause is kept).
func (l *MemoryLimiter) Pause(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: pause: %w: %w", ErrUnavailable, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.clock().Add(d); until.After(l.paused) {
		l.paused = until
	}
	return nil
}
