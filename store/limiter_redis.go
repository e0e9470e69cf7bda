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
	acquire *redis.Script
	pause   *redis.Script
}

// Limiter returns the rate limiter stored under r's prefix, on r's client.
func (r *Redis) Limiter() *RedisLimiter {
	return &RedisLimiter{
		client:  r.client,
		prefix:  r.prefix,
		acquire: redis.NewScript(acquireScript),
		pause:   redis.NewScript(pauseScript),
	}
}

// gcraFunc holds the Lua functions of the GCRA limit whose TAT key is key
// (emission interval T µs, tolerance tau µs = burst-1 intervals), on the
// Redis server's clock. gcra_wait(key, tau) returns how long, in µs, the
// next slot is away (0: now) without taking it. gcra(key, T, tau, maxw)
// takes that slot and returns its wait, true; when maxw >= 0 and the wait
// is longer than maxw µs it takes nothing and returns the wait, false (a
// slot its caller could not use in time would only push every later
// caller back). The queue's claim scripts use them too.
const gcraFunc = `
local function gcra_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function gcra_wait(key, tau)
  local now = gcra_now()
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local at = tat - tau
  if at < now then at = now end
  return at - now, tat, now
end
local function gcra(key, T, tau, maxw)
  local wait, tat, now = gcra_wait(key, tau)
  if maxw >= 0 and wait > maxw then return wait, false end
  local ntat = tat + T
  redis.call('SET', key, string.format('%d', ntat), 'PX', math.ceil((ntat - now) / 1000) + 1000)
  return wait, true
end
`

// gcraScript reserves one slot. KEYS: the TAT key. ARGV: emission interval
// µs, tolerance µs (burst-1 intervals). Returns the wait in µs (0: now).
const gcraScript = gcraFunc + `
local w = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), -1)
return w
`

// acquireScript returns {1, pause ms} while the pause is in force (taking
// no slot), {0, wait µs} when it took a slot, and {2, wait µs} when the
// next slot is more than ARGV[3] µs away (taking none). KEYS: the TAT key,
// the pause key. ARGV: as gcraScript, then the longest wait µs.
const acquireScript = gcraFunc + `
local p = redis.call('PTTL', KEYS[2])
if p > 0 then return {1, p} end
local w, ok = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if ok then return {0, w} end
return {2, w}
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

// limitKey and pauseKey are the limiter's keys under prefix; the queue's
// claim scripts use them too (ClaimOptions.Limit).
func limitKey(prefix, name string) string { return prefix + ":rl:" + name }
func pauseKey(prefix string) string       { return prefix + ":pause" }

func (l *RedisLimiter) limitKey(name string) string { return limitKey(l.prefix, name) }
func (l *RedisLimiter) pauseKey() string            { return pauseKey(l.prefix) }

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
