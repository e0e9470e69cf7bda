// Package lease keeps a named lease of the store for the replica that took
// it, so that exactly one replica does a job (long polling, pushing the
// event webhook), and stops the job as soon as the lease may have passed to
// another replica.
//
//	ctx, cancel := context.WithCancel(ctx)
//	go lease.Keep(ctx, cancel, lease.Spec{Store: st, Name: "poller", Holder: id, TTL: 10 * time.Second, Renew: 3 * time.Second, What: "poller"}, log)
package lease

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Acquirer takes or renews a named lease for holder for ttl and reports
// whether holder holds it now (store.Redis and store.Memory do).
type Acquirer interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// Spec names a lease and how it is kept.
type Spec struct {
	Store  Acquirer
	Name   string
	Holder string
	// TTL is the lease's lifetime; Renew (below TTL) how often it is
	// renewed.
	TTL, Renew time.Duration
	// What names the job in the log ("poller", "event webhook").
	What string
}

// Keep renews the lease every s.Renew until ctx ends. It calls cancel and
// returns when another holder has the lease, or when no renewal succeeded
// for so long that the lease may have expired before the next one: the
// time of the last successful renewal is taken as when it was sent, so the
// job stops before the store lets the lease go.
func Keep(ctx context.Context, cancel context.CancelFunc, s Spec, log *zap.Logger) {
	defer cancel()
	t := time.NewTicker(s.Renew)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		got, err := s.Store.AcquireLease(ctx, s.Name, s.Holder, s.TTL)
		switch {
		case err == nil && got:
			lastOK = sent
		case err == nil:
			log.Warn(s.What + " lease taken by another replica; stopping")
			return
		case time.Since(lastOK) > s.TTL-s.Renew:
			log.Warn("cannot renew the "+s.What+" lease; stopping", zap.Error(err))
			return
		}
	}
}
