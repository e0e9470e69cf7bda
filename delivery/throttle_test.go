package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
)

func TestThrottleSharesTheGlobalBudget(t *testing.T) {
	t.Parallel()
	lim := store.NewMemoryLimiter(nil)
	d := delivery.New(delivery.Config{GlobalRate: 20, GlobalBurst: 1}, store.NewMemoryQueue(nil), lim, store.NewMemory(), nil, nil)
	ctx := context.Background()
	start := time.Now()
	for range 5 {
		if !d.Throttle(ctx, 5*time.Second) {
			t.Fatal("no slot within 5s at 20/s")
		}
	}
	// Five slots at 20/s with a burst of 1 take at least 4 intervals.
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Fatalf("5 slots in %s: the limit was not applied", el)
	}
	if err := lim.Pause(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if d.Throttle(ctx, 50*time.Millisecond) {
		t.Fatal("Throttle granted a slot during a 429 pause longer than maxWait")
	}
}
