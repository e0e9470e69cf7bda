package store

import (
	"context"
	"time"
)

// leaseRecord is who holds a lease in Memory, and until when.
type leaseRecord struct {
	holder  string
	expires time.Time
}

// AcquireLease takes or renews the named lease for holder.
func (m *Memory) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errBadTTL
	}
	now, err := m.lock(ctx, "acquire lease")
	if err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	cur, ok := m.leases[name]
	if ok && now.Before(cur.expires) && cur.holder != holder {
		return false, nil
	}
	m.leases[name] = leaseRecord{holder: holder, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (m *Memory) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := m.lock(ctx, "release lease"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if cur, ok := m.leases[name]; ok && cur.holder == holder {
		delete(m.leases, name)
	}
	return nil
}

// SetPollOffsetLeased saves the offset while holder holds lease.
func (m *Memory) SetPollOffsetLeased(ctx context.Context, lease, holder string, offset int64) error {
	now, err := m.lock(ctx, "set poll offset")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if cur, ok := m.leases[lease]; !ok || cur.holder != holder || !now.Before(cur.expires) {
		return ErrLeaseLost
	}
	m.offset = offset
	return nil
}
