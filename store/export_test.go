package store

// Probes of the limiters' budget for the tests: Reserve takes a slot
// whatever the pause, Paused reads the pause. The service never needs
// either (the queue's claims and Acquire do both in one step).

import (
	"context"
	"fmt"
	"time"
)

// Reserve takes the next slot of the limit name (rate per second, up to
// burst at once) and returns how long the caller must wait before using it
// (0: now). The slot is taken even if the caller does not use it.
func (l *RedisLimiter) Reserve(ctx context.Context, name string, rate float64, burst int) (time.Duration, error) {
	T, tau, err := gcraParams(rate, burst)
	if err != nil {
		return 0, err
	}
	us, err := loadScript("limit_reserve").Run(ctx, l.client, []string{l.limitKey(name)}, T, tau).Int64()
	if err != nil {
		return 0, unavailable("rate limit", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Paused returns how long the current pause still lasts (0: none).
func (l *RedisLimiter) Paused(ctx context.Context) (time.Duration, error) {
	d, err := l.client.PTTL(ctx, l.pauseKey()).Result()
	if err != nil {
		return 0, unavailable("paused", err)
	}
	return max(d, 0), nil
}

// Reserve takes the next slot of the limit name (rate per second, up to
// burst at once) and returns how long the caller must wait before using it.
func (l *MemoryLimiter) Reserve(ctx context.Context, name string, rate float64, burst int) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: rate limit: %w: %w", ErrUnavailable, err)
	}
	T, tau, err := gcraParams(rate, burst)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reserveLocked(l.clock(), name, T, tau), nil
}

// Paused returns how long the current pause still lasts (0: none).
func (l *MemoryLimiter) Paused(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: paused: %w: %w", ErrUnavailable, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.paused.Sub(l.clock()), 0), nil
}
