package store

// The rate limiter's keys, <p>:rl:<name> (a GCRA limit) and <p>:pause, are
// in keys.go; its scripts are store/lua/limit_*.lua, pause.lua and the
// GCRA functions lib/gcra.lua.

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLimiter is a GCRA rate limiter and a global pause switch in Redis,
// shared by every replica using the same prefix. The scripts read the Redis
// server's clock (TIME), so replicas with skewed clocks share one budget.
// Get it from [Redis.Limiter].
type RedisLimiter struct {
	client  redis.UniversalClient
	prefix  string
	acquire *redis.Script
	pause   *redis.Script
}

// Limiter returns the rate limiter stored under r's prefix, on r's client.
func (r *Redis) Limiter() *RedisLimiter {
	return &RedisLimiter{
		client:  r.client,
		prefix:  r.prefix,
		acquire: loadScript("limit_acquire"),
		pause:   loadScript("pause"),
	}
}

// gcraParams converts rate (per second) and burst to the emission interval
// and tolerance in µs.
func gcraParams(rate float64, burst int) (int64, int64, error) {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return 0, 0, fmt.Errorf("store: rate limit: rate %v must be positive", rate)
	}
	T := int64(math.Max(1, math.Round(1e6/rate)))
	return T, T * int64(max(burst, 1)-1), nil
}

// Acquire checks the pause and takes a slot in one step, bounded by maxWait: while a
// pause is in force it returns how long it still lasts (paused > 0) and
// takes no slot; when the next slot is more than maxWait away it takes
// none and returns its wait (wait > maxWait: try again after wait −
// maxWait); else it takes the next slot of the limit name and returns how
// long the caller must wait before using it (wait <= maxWait).
func (l *RedisLimiter) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error) {
	T, tau, err := gcraParams(rate, burst)
	if err != nil {
		return 0, 0, err
	}
	res, err := l.acquire.Run(ctx, l.client, []string{l.limitKey(name), l.pauseKey()}, T, tau,
		max(maxWait, 0).Microseconds()).Int64Slice()
	if err != nil {
		return 0, 0, unavailable("rate limit", err)
	}
	if len(res) != 2 {
		return 0, 0, unavailable("rate limit", fmt.Errorf("unexpected script reply %v", res))
	}
	switch res[0] {
	case 1:
		return 0, time.Duration(res[1]) * time.Millisecond, nil
	case 2: // not taken: report a wait past maxWait even if µs rounding says otherwise
		return max(time.Duration(res[1])*time.Microsecond, maxWait+time.Microsecond), 0, nil
	}
	return time.Duration(res[1]) * time.Microsecond, 0, nil
}

// Pause pauses every sender of every replica for at least d (an existing
// longer pause is kept).
func (l *RedisLimiter) Pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := l.pause.Run(ctx, l.client, []string{l.pauseKey()}, ttlMillis(d)).Err(); err != nil {
		return unavailable("pause", err)
	}
	return nil
}
