package delivery

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tgnotify/tgnotify/retry"
)

// sendGate is what holds this process's workers back from sending: the
// global pause (a 429 here or at another replica, an auth failure) and
// the saturated global limit. It is the one route by which either reaches
// the workers: every source notes it here (notePause for a 429 or an auth
// failure, noteLimit for what the limit answered a claim or an Acquire),
// and workers consult it only here (before claiming, and before and after
// waiting for their slot).
type sendGate struct {
	// pausedUntil (unix ns) is the end of the latest global pause this
	// process saw; workers do not claim before it.
	pausedUntil atomic.Int64
	// throttledUntil (unix ns) is when, by the latest answer of the
	// limit, a slot within maxWait may be had. While it lies ahead the
	// workers of this process claim one at a time through slot, so a
	// saturated limit costs one claim per slot, not one per worker.
	throttledUntil atomic.Int64
	slot           chan struct{}
}

func newSendGate() sendGate { return sendGate{slot: make(chan struct{}, 1)} }

// notePause records that every send is paused for p from now.
func (d *Dispatcher) notePause(p time.Duration) {
	until := d.now().Add(p).UnixNano()
	for {
		cur := d.gate.pausedUntil.Load()
		if until <= cur || d.gate.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// noteLimit records what the global limit answered a claim or an Acquire
// that took nothing: the pause in force, or how long until a slot within
// maxWait may be had. It reports whether either was set.
func (d *Dispatcher) noteLimit(paused, throttled time.Duration) bool {
	switch {
	case paused > 0:
		d.notePause(paused)
	case throttled > 0:
		d.gate.throttledUntil.Store(d.now().Add(throttled).UnixNano())
	default:
		return false
	}
	return true
}

// localPause returns how long the latest pause this process saw still
// lasts.
func (d *Dispatcher) localPause() time.Duration {
	return max(time.Duration(d.gate.pausedUntil.Load()-d.now().UnixNano()), 0)
}

// localThrottle returns how long, by the latest answer of the limit, no
// slot may be had within maxWait.
func (d *Dispatcher) localThrottle() time.Duration {
	return max(time.Duration(d.gate.throttledUntil.Load()-d.now().UnixNano()), 0)
}

// mayClaim reports whether a worker may take new work now: ctx is live,
// no pause is known and the limit is not known to be saturated.
func (d *Dispatcher) mayClaim(ctx context.Context) bool {
	return ctx.Err() == nil && d.localPause() <= 0 && d.localThrottle() <= 0
}

// claim claims the next due chat. While the limit is saturated the
// workers of this process claim one at a time: each waits for the gate,
// then until the latest throttle ends, then claims, so that a saturated
// limit is asked once per slot and not by every worker at once.
func (d *Dispatcher) claim(ctx context.Context) (Claim, bool, error) {
	if d.localThrottle() > 0 {
		select {
		case d.gate.slot <- struct{}{}:
		case <-ctx.Done():
			return Claim{}, false, ctx.Err()
		}
		defer func() { <-d.gate.slot }()
		if !retry.Sleep(ctx, d.localThrottle()) {
			return Claim{}, false, ctx.Err()
		}
	}
	return d.q.Claim(ctx, d.now(), d.claimOpts)
}
