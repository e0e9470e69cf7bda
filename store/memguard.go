package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memGuard is the mutex, closed flag and sweep clock that the in-memory
// types (Memory, MemoryQueue) share.
type memGuard struct {
	mu        sync.Mutex
	closed    bool
	lastSweep time.Time
}

// lock takes the mutex after checking ctx and the closed flag, runs sweep
// when sweepInterval has passed, and returns now(). On success the caller
// must unlock g.mu. what names the type in errors ("memory store").
func (g *memGuard) lock(ctx context.Context, op, what string, now func() time.Time, sweep func(time.Time)) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return time.Time{}, fmt.Errorf("store: %s: %w: %s closed", op, ErrUnavailable, what)
	}
	t := now()
	if t.Sub(g.lastSweep) >= sweepInterval {
		g.lastSweep = t
		sweep(t)
	}
	return t, nil
}
