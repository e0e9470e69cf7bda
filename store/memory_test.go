package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st := store.NewMemory()
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// fakeClock is a manually advanced clock for NewMemoryWithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryClockExpiry(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := store.NewMemoryWithClock(clock.Now)

	exp := clock.Now().Add(time.Minute)
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "t", UserID: "u", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if s, err := st.ClaimUpdate(ctx, 1, 10*time.Second); err != nil || s != store.UpdateClaimed {
		t.Fatalf("ClaimUpdate = %v, %v", s, err)
	}
	if err := st.CompleteUpdate(ctx, 2, 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	clock.Advance(59 * time.Second)
	if _, err := st.UserLinkToken(ctx, "u"); err != nil {
		t.Fatalf("token before ExpiresAt: %v", err)
	}
	if s, _ := st.ClaimUpdate(ctx, 1, time.Second); s != store.UpdateClaimed {
		t.Fatalf("claim after claimTTL = %v, want claimed", s)
	}

	clock.Advance(time.Second) // exactly ExpiresAt: expired
	if _, err := st.UserLinkToken(ctx, "u"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token at ExpiresAt: %v, want ErrNotFound", err)
	}
	if _, err := st.ConsumeLinkToken(ctx, "t", 1, "a", clock.Now()); !errors.Is(err, store.ErrTokenInvalid) {
		t.Fatalf("consume at ExpiresAt: %v, want ErrTokenInvalid", err)
	}
	if s, _ := st.ClaimUpdate(ctx, 2, time.Second); s != store.UpdateDone {
		t.Fatalf("done update before keep = %v, want done", s)
	}
	clock.Advance(2 * time.Minute) // also triggers the periodic sweep
	if s, _ := st.ClaimUpdate(ctx, 2, time.Second); s != store.UpdateClaimed {
		t.Fatalf("done update after keep = %v, want claimed", s)
	}
}

func TestMemoryCancelledContext(t *testing.T) {
	st := store.NewMemory()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := st.Ping(ctx)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping(cancelled) = %v, want ErrUnavailable and context.Canceled", err)
	}
}
