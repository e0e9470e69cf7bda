package store

// Redis keys of the rate limiter (<p> is the store's prefix):
//
//	<p>:rl:<name>   string: GCRA theoretical arrival time, unix µs (Redis clock); PX until it lapses
//	<p>:pause       string "1": every sender waits while it exists; PX = the pause (429 retry_after)

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
	reserve *redis.Script
	pause   *redis.Script
}

// Limiter returns the rate limiter stored under r's prefix, on r's client.
func (r *Redis) Limiter() *RedisLimiter {
	return &RedisLimiter{
		client:  r.client,
		prefix:  r.prefix,
		reserve: redis.NewScript(gcraScript),
		pause:   redis.NewScript(pauseScript),
	}
}

// gcraScript reserves one slot. KEYS: the TAT key. ARGV: emission interval
// µs, tolerance µs (burst-1 intervals). Returns the wait in µs (0: now).
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T, tau = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local at = tat - tau
if at < now then at = now end
local ntat = tat + T
redis.call('SET', KEYS[1], string.format('%d', ntat), 'PX', math.ceil((ntat - now) / 1000) + 1000)
return at - now
`

// pauseScript extends the pause to at least ARGV[1] ms. KEYS: pause key.
const pauseScript = `
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
`

// gcraParams converts rate (per second) and burst to the emission interval
// and tolerance in µs.
func gcraParams(rate float64, burst int) (int64, int64, error) {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return 0, 0, fmt.Errorf("store: rate limit: rate %v must be positive", rate)
	}
	T := int64(math.Max(1, math.Round(1e6/rate)))
	return T, T * int64(max(burst, 1)-1), nil
}

// Reserve takes the next slot of the limit name (rate per second, up to
// burst at once) and returns how long the caller must wait before using it
// (0: now). The slot is taken even if the caller does not use it.
func (l *RedisLimiter) Reserve(ctx context.Context, name string, rate float64, burst int) (time.Duration, error) {
	T, tau, err := gcraParams(rate, burst)
	if err != nil {
		return 0, err
	}
	us, err := l.reserve.Run(ctx, l.client, []string{l.prefix + ":rl:" + name}, T, tau).Int64()
	if err != nil {
		return 0, unavailable("rate limit", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Pause makes Paused report at least d for every replica (an existing
// longer pause is kept).
func (l *RedisLimiter) Pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := l.pause.Run(ctx, l.client, []string{l.prefix + ":pause"}, ttlMillis(d)).Err(); err != nil {
		return unavailable("pause", err)
	}
	return nil
}

// Paused returns how long the current pause still lasts (0: none).
func (l *RedisLimiter) Paused(ctx context.Context) (time.Duration, error) {
	d, err := l.client.PTTL(ctx, l.prefix+":pause").Result()
	if err != nil {
		return 0, unavailable("paused", err)
	}
	return max(d, 0), nil
}
