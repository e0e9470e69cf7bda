package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease keys: <p>:lease:<name> holds the holder's id with a PX expiry.
func (r *Redis) leaseKey(name string) string { return r.prefix + ":lease:" + name }

// acquireLeaseScript: KEYS[1] lease; ARGV holder, ttl ms. Takes a free
// lease or renews one already held by holder; returns 1 when held.
const acquireLeaseScript = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`

// releaseLeaseScript: KEYS[1] lease; ARGV holder.
const releaseLeaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

// fencedOffsetScript: KEYS[1] lease, KEYS[2] offset; ARGV holder, offset.
// Writes only while the lease is held by holder; returns 1 when written.
const fencedOffsetScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1`

var (
	acquireLease = redis.NewScript(acquireLeaseScript)
	releaseLease = redis.NewScript(releaseLeaseScript)
	fencedOffset = redis.NewScript(fencedOffsetScript)
)

// AcquireLease takes or renews the named lease for holder.
func (r *Redis) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errBadTTL
	}
	n, err := acquireLease.Run(ctx, r.client, []string{r.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (r *Redis) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := releaseLease.Run(ctx, r.client, []string{r.leaseKey(name)}, holder).Err(); err != nil {
		return unavailable("release lease", err)
	}
	return nil
}

// SetPollOffsetLeased saves the offset while holder holds lease.
func (r *Redis) SetPollOffsetLeased(ctx context.Context, lease, holder string, offset int64) error {
	n, err := fencedOffset.Run(ctx, r.client, []string{r.leaseKey(lease), r.offsetKey()}, holder, offset).Int()
	if err != nil {
		return unavailable("set poll offset", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}
