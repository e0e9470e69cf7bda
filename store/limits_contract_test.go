package store_test

import (
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestMemoryQueueLimits(t *testing.T) {
	runLimitsContract(t, func(t *testing.T) queue { return store.NewMemoryQueue(nil) })
}

func TestRedisQueueLimits(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runLimitsContract(t, func(t *testing.T) queue {
		return store.NewRedis(srv.Client(t), fmt.Sprintf("l%d", n.Add(1))).Queue()
	})
}

// runLimitsContract is finding 7 of issue 8 (admission control): a
// per-user backlog limit and a global queued limit, checked in the same
// atomic step as the enqueue; over a limit nothing is written. Before the
// fix every enqueue was accepted.
func runLimitsContract(t *testing.T, newQueue func(t *testing.T) queue) {
	t0 := time.Now().Truncate(time.Millisecond)
	limited := func(user, queued int64) delivery.EnqueueOptions {
		o := qOpts
		o.MaxUserBacklog, o.MaxQueued = user, queued
		return o
	}
	enqueue := func(t *testing.T, q queue, n delivery.Notification, opts delivery.EnqueueOptions) error {
		t.Helper()
		_, _, err := q.Enqueue(qctx(t), n, opts)
		return err
	}
	tests := []struct {
		name      string
		opts      delivery.EnqueueOptions
		queued    []delivery.Notification // accepted first
		next      delivery.Notification
		wantErr   error
		afterSent bool // the next one is accepted once the first queued is sent
	}{
		{name: "user backlog full", opts: limited(2, 0),
			queued: []delivery.Notification{notif("a", "u", 1, t0), notif("b", "u", 2, t0), notif("x", "v", 3, t0)},
			next:   notif("c", "u", 1, t0), wantErr: delivery.ErrBacklogFull, afterSent: true},
		{name: "another user is not limited by it", opts: limited(2, 0),
			queued: []delivery.Notification{notif("a", "u", 1, t0), notif("b", "u", 1, t0)},
			next:   notif("c", "v", 1, t0)},
		{name: "queue full", opts: limited(0, 3),
			queued: []delivery.Notification{notif("a", "u", 1, t0), notif("b", "v", 2, t0), notif("x", "w", 3, t0)},
			next:   notif("c", "z", 4, t0), wantErr: delivery.ErrQueueFull, afterSent: true},
		{name: "no limits", opts: limited(0, 0),
			queued: []delivery.Notification{notif("a", "u", 1, t0), notif("b", "u", 1, t0)},
			next:   notif("c", "u", 1, t0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(t)
			for _, n := range tc.queued {
				if err := enqueue(t, q, n, tc.opts); err != nil {
					t.Fatalf("Enqueue(%s) = %v", n.ID, err)
				}
			}
			err := enqueue(t, q, tc.next, tc.opts)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Enqueue(%s) = %v, want %v", tc.next.ID, err, tc.wantErr)
			}
			if tc.wantErr == nil {
				return
			}
			if _, err := q.Get(qctx(t), tc.next.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("refused record: Get = %v, want ErrNotFound (nothing written)", err)
			}
			checkBacklog(t, q, int64(len(tc.queued)), t0)
			if s, err := q.Summary(qctx(t), tc.next.UserID); err != nil || s.LastID == tc.next.ID {
				t.Fatalf("summary after refusal = %+v, %v", s, err)
			}
			if !tc.afterSent {
				return
			}
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0)
			if err := enqueue(t, q, tc.next, tc.opts); err != nil {
				t.Fatalf("Enqueue(%s) after a send = %v", tc.next.ID, err)
			}
		})
	}
	t.Run("a duplicate at the limit is still answered", func(t *testing.T) {
		q := newQueue(t)
		n := notif("a", "u", 1, t0)
		n.IdempotencyKey = "k"
		opts := limited(1, 1)
		if err := enqueue(t, q, n, opts); err != nil {
			t.Fatal(err)
		}
		again := notif("b", "u", 1, t0)
		again.IdempotencyKey = "k"
		got, dup, err := q.Enqueue(qctx(t), again, opts)
		if err != nil || !dup || got.ID != "a" {
			t.Fatalf("duplicate Enqueue = %+v dup %v, %v; want a, dup", got, dup, err)
		}
	})
}
