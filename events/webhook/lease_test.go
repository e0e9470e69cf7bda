package webhook_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// crashingStore is a store whose ReleaseLease does nothing: a pusher
// stopped through it leaves its lease to expire, as a killed process does.
type crashingStore struct{ *store.Redis }

func (crashingStore) ReleaseLease(context.Context, string, string) error { return nil }

// TestTwoPushersOnOneRedis runs two pushers on one Redis, with its event
// log (the store's stream, woken by XREAD across clients): they never push
// at once, and when the holder dies with a batch in flight the other takes
// over after the lease's TTL and sends that batch again (the only
// duplicates), then everything else once, in order.
func TestTwoPushersOnOneRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	st := crashingStore{store.NewRedis(srv.Client(t), "evhook2")}
	t.Cleanup(func() { _ = st.Close() })

	// The receiver holds the third request it gets (the crash point)
	// until the sender's connection goes away, and does not accept it.
	inFlight := make(chan string, 1)
	var crashOnce sync.Once
	rcv := newReceiver(t, func(n int, from string) int {
		if n == 3 {
			crashOnce.Do(func() { inFlight <- from })
			return hang
		}
		return 0
	})
	pushers := map[string]func(){}
	for _, name := range []string{"a", "b"} {
		p := newPusher(t, rcv, st, st, nil, webhook.WithHTTPClient(taggedClient(name)))
		pushers[name] = run(t, p)
	}
	waitCursor(t, st, "")
	var want []string
	for range 10 {
		want = append(want, appendN(t, st, 30, events.TypeNotificationSent)...)
	}
	var crashed string
	select {
	case crashed = <-inFlight:
	case <-time.After(waitLong):
		t.Fatal("no third request")
	}
	crashedAt := time.Now()
	pushers[crashed]() // the holder dies with the third batch in flight
	poll.Eventually(t, waitLong, "300 events accepted", func() bool { return rcv.count() >= 300 })
	waitCursor(t, st, strings.TrimPrefix(want[299], "ev-"))

	// Every event once in order: the third batch, never accepted from the
	// crashed pusher, was sent again by the survivor.
	if got := rcv.ids(); !slices.Equal(got, want) {
		t.Fatalf("accepted %d events, not the 300 appended once each in order", len(got))
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.overlaps != 0 {
		t.Fatalf("%d requests overlapped another: two pushers pushed at once", rcv.overlaps)
	}
	// The lease outlives its holder by at least TTL - renew (500 ms).
	if d := time.Since(crashedAt); d < 400*time.Millisecond {
		t.Fatalf("the other pusher took over after %v, before the lease's TTL", d)
	}
	survivor := map[string]string{"a": "b", "b": "a"}[crashed]
	for i, s := range rcv.senders {
		if want := map[bool]string{true: crashed, false: survivor}[i < 2]; s != want {
			t.Fatalf("batch %d sent by %q, want %q (senders %v)", i, s, want, rcv.senders)
		}
	}
}
