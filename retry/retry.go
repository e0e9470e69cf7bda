// Package retry is the service's one backoff policy for loops that wait
// after a failure: a capped exponential backoff with "equal jitter" (each
// wait lies between half and all of the current step; the step starts at
// the minimum and doubles up to the maximum) and a sleep that ends early
// when its context does. Backoff keeps the step for a loop; Delay computes
// the wait of a given retry (for a count stored with the work, such as a
// notification's retries); Jitter spreads a step computed elsewhere.
//
//	b := retry.New(500*time.Millisecond, 30*time.Second)
//	for {
//		if err := op(ctx); err == nil {
//			b.Reset()
//			continue
//		}
//		if !retry.Sleep(ctx, b.Next()) {
//			return ctx.Err()
//		}
//	}
//
// The steps come from github.com/cenkalti/backoff/v5's ExponentialBackOff.
// The callers do not use its Retry function because their loops are not
// "retry one operation": a poller has several failure sites sharing one
// backoff, resets it on success, logs each wait and replaces some waits
// (Telegram's retry_after); a stateful Next/Reset fits all of them.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Equal jitter through backoff's symmetric randomization: a step s is kept
// as the interval 3s/4 randomized by ±1/3, which spans [s/2, s].
const (
	intervalScale = 0.75
	randomization = 1.0 / 3
)

// Backoff yields the waits after consecutive failures. It is not safe for
// concurrent use: give each loop its own.
type Backoff struct {
	b backoff.ExponentialBackOff
}

// scaled is the backoff interval that randomization spreads over
// [step/2, step].
func scaled(step time.Duration) time.Duration {
	return time.Duration(float64(step) * intervalScale)
}

// New returns a Backoff whose first wait lies in [minWait/2, minWait] and
// whose steps double up to maxWait (waits in [maxWait/2, maxWait]). A
// maxWait below minWait is taken as minWait.
func New(minWait, maxWait time.Duration) *Backoff {
	maxWait = max(maxWait, minWait)
	b := &Backoff{b: backoff.ExponentialBackOff{
		InitialInterval:     scaled(minWait),
		RandomizationFactor: randomization,
		Multiplier:          2,
		MaxInterval:         scaled(maxWait),
	}}
	b.b.Reset()
	return b
}

// Next returns the wait after one more failure and advances the step.
func (b *Backoff) Next() time.Duration { return b.b.NextBackOff() }

// Reset starts again from the first step, after a success.
func (b *Backoff) Reset() { b.b.Reset() }

// Jitter returns a wait in [step/2, step], the policy's spread of one step
// (a step of 1 ns or less is returned as is).
func Jitter(step time.Duration) time.Duration {
	if step <= 1 {
		return step
	}
	b := backoff.ExponentialBackOff{InitialInterval: scaled(step), RandomizationFactor: randomization,
		Multiplier: 2, MaxInterval: scaled(step)}
	return b.NextBackOff()
}

// Delay returns the wait before retry n (0 for the first retry): the step
// minWait doubled n times, capped at maxWait, jittered as by Jitter. It is
// the n+1-th wait of New(minWait, maxWait), for callers that store the
// count rather than keep a Backoff.
func Delay(minWait, maxWait time.Duration, n int) time.Duration {
	maxWait = max(maxWait, minWait)
	step := minWait << min(max(n, 0), 62)
	if step <= 0 || step > maxWait || step>>min(max(n, 0), 62) != minWait {
		step = maxWait
	}
	return Jitter(step)
}

// Sleep waits for d or until ctx ends; it reports whether d elapsed (a
// d <= 0 returns at once, true unless ctx has ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
