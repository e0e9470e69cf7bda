package store

// Named leases (the poller's): <p>:lease:<name> holds the holder's id
// with a PX expiry (keys.go; scripts store/lua/lease_*.lua and
// poll_offset_fenced.lua).

import (
	"context"
	"time"
)

// AcquireLease takes or renews the named lease for holder.
func (r *Redis) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errBadTTL
	}
	n, err := r.acquireLease.Run(ctx, r.client, []string{r.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (r *Redis) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := r.releaseLease.Run(ctx, r.client, []string{r.leaseKey(name)}, holder).Err(); err != nil {
		return unavailable("release lease", err)
	}
	return nil
}

// SetPollOffsetLeased saves the offset while holder holds lease.
func (r *Redis) SetPollOffsetLeased(ctx context.Context, lease, holder string, offset int64) error {
	n, err := r.fencedOffset.Run(ctx, r.client, []string{r.leaseKey(lease), r.offsetKey()}, holder, offset).Int()
	if err != nil {
		return unavailable("set poll offset", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}
