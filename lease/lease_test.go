package lease_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/lease"
)

// scripted answers AcquireLease with answer(n) for the n-th call (from 1).
type scripted struct {
	n      atomic.Int64
	answer func(n int64) (bool, error)
}

func (s *scripted) AcquireLease(context.Context, string, string, time.Duration) (bool, error) {
	return s.answer(s.n.Add(1))
}

func TestKeep(t *testing.T) {
	t.Parallel()
	down := errors.New("store down")
	cases := []struct {
		name     string
		answer   func(n int64) (bool, error)
		minCalls int64 // Keep must have renewed at least this often before it stopped
	}{
		{"another replica takes it", func(n int64) (bool, error) { return n < 3, nil }, 3},
		{"renewals fail until the lease may have expired", func(n int64) (bool, error) { return n < 2, down }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &scripted{answer: tc.answer}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				lease.Keep(ctx, cancel, lease.Spec{Store: st, Name: "job", Holder: "me", TTL: 50 * time.Millisecond,
					Renew: 5 * time.Millisecond, What: "job"}, zap.NewNop())
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Keep did not stop")
			}
			if ctx.Err() == nil {
				t.Fatal("Keep stopped without cancelling the job")
			}
			if got := st.n.Load(); got < tc.minCalls {
				t.Fatalf("stopped after %d renewals, want at least %d", got, tc.minCalls)
			}
		})
	}
	t.Run("held until the context ends", func(t *testing.T) {
		t.Parallel()
		st := &scripted{answer: func(int64) (bool, error) { return true, nil }}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			lease.Keep(ctx, func() {}, lease.Spec{Store: st, Name: "job", Holder: "me", TTL: 50 * time.Millisecond,
				Renew: 5 * time.Millisecond, What: "job"}, zap.NewNop())
		}()
		poll.Eventually(t, 10*time.Second, "three renewals", func() bool { return st.n.Load() >= 3 })
		select {
		case <-stopped:
			t.Fatal("Keep stopped while the lease was held")
		default:
		}
		cancel()
		<-stopped
	})
}
