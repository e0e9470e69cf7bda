package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestRedisQueueEnqueueLinked(t *testing.T) {
	srv := redistest.Start(t)
	st := store.NewRedis(srv.Client(t), "qel")
	q := st.Queue()
	t0 := time.Now().Truncate(time.Millisecond)
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), "tok", -1001234, "alice", t0); err != nil {
		t.Fatal(err)
	}
	opts := store.EnqueueOptions{Retention: time.Hour, IdempotencyTTL: time.Hour}

	// Not linked: nothing written, even with a fresh idempotency key.
	n := notif("x", "u2", 0, t0)
	n.IdempotencyKey = "k"
	if _, _, err := q.EnqueueLinked(qctx(t), n, opts); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EnqueueLinked of an unlinked user: err = %v; want ErrNotFound", err)
	}
	if _, err := q.Get(qctx(t), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after a refused enqueue: err = %v; want ErrNotFound", err)
	}

	// Linked: the chat comes from the link (n.ChatID is ignored).
	n = notif("a", "u1", 7, t0)
	n.IdempotencyKey = "k"
	got, dup, err := q.EnqueueLinked(qctx(t), n, opts)
	if err != nil || dup || got.ChatID != -1001234 || got.State != store.StateQueued {
		t.Fatalf("EnqueueLinked = %+v, %v, %v; want chat -1001234, fresh", got, dup, err)
	}
	if rec := mustGet(t, q, "a"); rec.ChatID != -1001234 || rec.UserID != "u1" {
		t.Fatalf("record = %+v; want chat -1001234", rec)
	}
	checkBacklog(t, q, 1, t0)
	c := mustClaim(t, q, t0.Add(time.Second))
	if c.ChatID != -1001234 || c.Notification.ID != "a" {
		t.Fatalf("claim = %+v; want a in chat -1001234", c)
	}

	// Same idempotency key: the first notification, nothing written.
	n2 := notif("b", "u1", 0, t0)
	n2.IdempotencyKey = "k"
	got, dup, err = q.EnqueueLinked(qctx(t), n2, opts)
	if err != nil || !dup || got.ID != "a" {
		t.Fatalf("EnqueueLinked again = %+v, %v, %v; want duplicate a", got, dup, err)
	}

	// Plain Enqueue still uses the given chat.
	mustEnqueue(t, q, notif("c", "u1", 99, t0))
	if rec := mustGet(t, q, "c"); rec.ChatID != 99 {
		t.Fatalf("record = %+v; want chat 99", rec)
	}
}
