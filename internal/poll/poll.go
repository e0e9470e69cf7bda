// Package poll waits for a condition with a deadline, for tests and tools
// that must observe another goroutine or process without sleeping as a
// means of synchronisation.
//
//	// in a tool: the error says what was awaited and for how long
//	err := poll.Until(ctx, 15*time.Second, "redis-server PING", func() (bool, error) {
//		return ping(addr) == nil, nil
//	})
//
//	// in a test: fails t with what and the deadline
//	poll.Eventually(t, 5*time.Second, "the message to arrive", func() bool {
//		return len(fake.Messages(chat)) == 1
//	})
package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Interval is the pause between two evaluations of a condition.
const Interval = 5 * time.Millisecond

// Until evaluates cond at once and then every [Interval] until it returns
// true (Until returns nil), returns an error (Until returns it), ctx ends or
// timeout passes (Until returns an error naming what and the timeout; it
// wraps ctx.Err() when ctx ended first, [context.DeadlineExceeded] when the
// timeout passed).
func Until(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			return fmt.Errorf("timed out after %v waiting for %s: %w", timeout, what, context.DeadlineExceeded)
		case <-tick.C:
		}
	}
}

// Eventually evaluates cond at once and then every [Interval] until it
// returns true. If timeout passes first, or the test's context ends, it
// fails tb with what and the timeout (tb.Fatalf: call it from the test's
// goroutine).
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	err := Until(tb.Context(), timeout, what, func() (bool, error) { return cond(), nil })
	if err != nil {
		tb.Fatalf("poll: %v", err)
	}
}
