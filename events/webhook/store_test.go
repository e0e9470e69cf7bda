package webhook_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/events/wire"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// realStore is a store with the event log, as app/ hands it over.
type realStore interface {
	webhook.Store
	events.Reader
	Append(ctx context.Context, e events.Event) (events.Event, error)
}

// appendN appends n events through st and returns their ids.
func appendN(t *testing.T, st realStore, n int, typ events.Type) []string {
	t.Helper()
	var ids []string
	for range n {
		e, err := st.Append(t.Context(), events.Event{Type: typ, UserID: "u1", ChatID: 42, Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// wirePusher is newPusher with the real wire encoding.
func wirePusher(t *testing.T, rcv *receiver, st realStore, opts ...webhook.Option) *webhook.Pusher {
	t.Helper()
	cfg := webhook.Config{URL: rcv.srv.URL, Secret: testSecret}
	p, err := webhook.New(cfg, st, st, wire.MarshalBatch, zaptest.NewLogger(t), append(fastOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRealLog(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) realStore{
		"memory": func(*testing.T) realStore { return store.NewMemory() },
		"redis": func(t *testing.T) realStore {
			st := store.NewRedis(redistest.Start(t).Client(t), "evhook")
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
	for name, newStore := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := newStore(t)
			before := appendN(t, st, 3, events.TypeUserLinked)
			rcv := newReceiver(t, func(n int, _ string) int {
				if n <= 3 {
					return 503
				}
				return 0
			})
			stop := run(t, wirePusher(t, rcv, st))
			waitCursor(t, st, before[2][len("ev-"):]) // the tail when first configured
			want := appendN(t, st, 150, events.TypeMessageReceived)
			poll.Eventually(t, waitLong, "150 events accepted", func() bool { return rcv.count() >= 150 })
			// Stopped once the last batch is acknowledged (a stop with a
			// batch in flight sends it again: at-least-once).
			waitCursor(t, st, want[149][len("ev-"):])
			stop()
			want = append(want, appendN(t, st, 20, events.TypeButtonPressed)...)
			run(t, wirePusher(t, rcv, st))
			poll.Eventually(t, waitLong, "170 events accepted", func() bool { return rcv.count() >= 170 })
			if got := rcv.ids(); !slices.Equal(got, want) {
				t.Fatalf("accepted %d events, want the %d appended after the start, once each in order", len(got), len(want))
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			if e := rcv.accepted[0]; e.Type != "EVENT_TYPE_MESSAGE_RECEIVED" || e.Cursor == "" {
				t.Fatalf("first event on the wire = %+v, want protojson with proto names", e)
			}
		})
	}
}

func TestRealLogTrimmed(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	st.SetEventOptions(store.EventOptions{MaxLen: 5, Retention: time.Hour})
	rcv := newReceiver(t, nil)
	obs := newRecObserver()
	appendN(t, st, 2, events.TypeUserLinked)
	stop := run(t, wirePusher(t, rcv, st))
	poll.Eventually(t, waitLong, "cursor stored", func() bool { _, ok := storedCursor(t, st); return ok })
	stop()
	ids := appendN(t, st, 10, events.TypeUserUnlinked) // the log keeps the last 5
	run(t, wirePusher(t, rcv, st, webhook.WithObserver(obs)))
	poll.Eventually(t, waitLong, "5 events accepted", func() bool { return rcv.count() >= 5 })
	if got := rcv.ids(); !slices.Equal(got, ids[5:]) {
		t.Fatalf("accepted %v, want the 5 retained %v", got, ids[5:])
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.tooOld != 1 {
		t.Fatalf("CursorTooOld reported %d times, want 1", obs.tooOld)
	}
}
