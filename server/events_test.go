package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
)

// TestWatchPagesThroughALongBacklog: a backlog of several MaxRead pages
// is sent whole and in order, then heartbeats follow while idle.
func TestWatchPagesThroughALongBacklog(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	const n = 2*events.MaxRead + 17
	for i := range n {
		if _, err := st.Append(t.Context(), events.Event{Type: events.TypeMessageReceived, UserID: "u", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	s := NewService(nil, nil, nil, time.Hour, Events{Log: st, Heartbeat: 50 * time.Millisecond}, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []*notifierv1.Event
	heartbeats := 0
	errDone := errors.New("done")
	err := s.watch(ctx, "", events.Filter{}, func(e *notifierv1.Event) error {
		if e.GetType() == notifierv1.EventType_EVENT_TYPE_UNSPECIFIED {
			if e.GetCursor() != "" || len(got) != n {
				t.Errorf("heartbeat %v after %d of %d events", e, len(got), n)
			}
			if heartbeats++; heartbeats == 2 {
				return errDone
			}
			return nil
		}
		got = append(got, e)
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("watch = %v", err)
	}
	for i, e := range got {
		if e.GetText() != fmt.Sprint(i) {
			t.Fatalf("event %d has text %q", i, e.GetText())
		}
	}
}

// TestWatchEndsWithItsContext: a watch waiting for events returns its
// context's error when the context ends.
func TestWatchEndsWithItsContext(t *testing.T) {
	t.Parallel()
	s := NewService(nil, nil, nil, time.Hour, Events{Log: store.NewMemory()}, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.watch(ctx, "", events.Filter{}, func(*notifierv1.Event) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("watch = %v after %s, want the context's deadline at once", err, time.Since(start))
	}
}
