package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// evhookStore is what events/webhook uses of a store.
type evhookStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	EventWebhookCursor(ctx context.Context) (string, bool, error)
	SetEventWebhookCursorLeased(ctx context.Context, lease, holder, cursor string) error
}

var (
	_ evhookStore = (*store.Redis)(nil)
	_ evhookStore = (*store.Memory)(nil)
)

func TestMemoryEventWebhookCursor(t *testing.T) {
	runEventWebhookCursor(t, func(t *testing.T) evhookStore { return store.NewMemory() })
}

func TestRedisEventWebhookCursor(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runEventWebhookCursor(t, func(t *testing.T) evhookStore {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("evh%d", n.Add(1)))
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestRedisEventWebhookCursorKey(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := store.NewRedis(c, "")
	ctx := qctx(t)
	if ok, err := st.AcquireLease(ctx, "event_webhook", "a", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	if err := st.SetEventWebhookCursorLeased(ctx, "event_webhook", "a", "1-0"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "tgn:evhook:cursor").Result(); err != nil || v != "1-0" {
		t.Fatalf("tgn:evhook:cursor = %q, %v; want 1-0", v, err)
	}
	if ttl, err := c.PTTL(ctx, "tgn:evhook:cursor").Result(); err != nil || ttl != -1 {
		t.Fatalf("PTTL = %v, %v; want no expiry", ttl, err)
	}
}

// runEventWebhookCursor is the contract of the event webhook's cursor:
// absent until stored (an empty cursor is a stored value), written only
// under the named lease, the last write wins, bounded.
func runEventWebhookCursor(t *testing.T, newStore func(t *testing.T) evhookStore) {
	const lease = "event_webhook"
	get := func(t *testing.T, st evhookStore) (string, bool) {
		t.Helper()
		c, ok, err := st.EventWebhookCursor(qctx(t))
		if err != nil {
			t.Fatalf("EventWebhookCursor: %v", err)
		}
		return c, ok
	}
	hold := func(t *testing.T, st evhookStore, holder string) {
		t.Helper()
		if ok, err := st.AcquireLease(qctx(t), lease, holder, time.Minute); err != nil || !ok {
			t.Fatalf("AcquireLease(%s) = %v, %v", holder, ok, err)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, st evhookStore)
	}{
		{"absent until stored", func(t *testing.T, st evhookStore) {
			if c, ok := get(t, st); ok || c != "" {
				t.Fatalf("cursor = %q, %v; want none", c, ok)
			}
		}},
		{"empty cursor is stored", func(t *testing.T, st evhookStore) {
			hold(t, st, "a")
			if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "a", ""); err != nil {
				t.Fatal(err)
			}
			if c, ok := get(t, st); !ok || c != "" {
				t.Fatalf("cursor = %q, %v; want stored empty", c, ok)
			}
		}},
		{"last write wins", func(t *testing.T, st evhookStore) {
			hold(t, st, "a")
			for _, c := range []string{"1-0", "5-2", "1764600000000-0"} {
				if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "a", c); err != nil {
					t.Fatalf("set %q: %v", c, err)
				}
			}
			if c, ok := get(t, st); !ok || c != "1764600000000-0" {
				t.Fatalf("cursor = %q, %v", c, ok)
			}
		}},
		{"fenced by the lease", func(t *testing.T, st evhookStore) {
			if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "a", "1-0"); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("write without the lease = %v, want ErrLeaseLost", err)
			}
			hold(t, st, "a")
			if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "b", "2-0"); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("write by a non-holder = %v, want ErrLeaseLost", err)
			}
			if err := st.SetEventWebhookCursorLeased(qctx(t), "poller", "a", "2-0"); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("write under another lease = %v, want ErrLeaseLost", err)
			}
			if c, ok := get(t, st); ok {
				t.Fatalf("cursor = %q: a fenced write landed", c)
			}
			if err := st.ReleaseLease(qctx(t), lease, "a"); err != nil {
				t.Fatal(err)
			}
			if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "a", "3-0"); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("write after release = %v, want ErrLeaseLost", err)
			}
		}},
		{"bounded", func(t *testing.T, st evhookStore) {
			hold(t, st, "a")
			if err := st.SetEventWebhookCursorLeased(qctx(t), lease, "a", strings.Repeat("9", 257)); err == nil {
				t.Fatal("a 257-byte cursor was stored")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}
