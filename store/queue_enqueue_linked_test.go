package store_test

import (
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// TestRedisQueueConcurrentEnqueues sends many enqueues at once, so that
// they share script runs (batches): linked and unlinked users, explicit
// chats, and idempotency keys repeated within a batch. Each call must get
// its own answer, and each key exactly one notification.
func TestRedisQueueConcurrentEnqueues(t *testing.T) {
	srv := redistest.Start(t)
	st := store.NewRedis(srv.Client(t), "qce")
	q := st.Queue()
	t0 := time.Now().Truncate(time.Millisecond)
	const linkedUsers, users, calls = 8, 10, 400
	for u := range linkedUsers {
		tok, user := fmt.Sprintf("tok%d", u), fmt.Sprintf("u%d", u)
		if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: tok, UserID: user, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(qctx(t), tok, int64(1000+u), "", t0); err != nil {
			t.Fatal(err)
		}
	}
	opts := delivery.EnqueueOptions{Retention: time.Hour, IdempotencyTTL: time.Hour}
	type answer struct {
		user, key string
		sent      delivery.Notification
		got       delivery.Notification
		dup       bool
		err       error
	}
	answers := make(chan answer, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			u := i % users
			n := notif(fmt.Sprintf("n%03d", i), fmt.Sprintf("u%d", u), int64(1000+u), t0)
			if i%3 == 0 {
				n.IdempotencyKey = fmt.Sprintf("k%d", i%7)
			}
			var a answer
			a.user, a.key, a.sent = n.UserID, n.IdempotencyKey, n
			if i%2 == 0 {
				a.got, a.dup, a.err = q.EnqueueLinked(qctx(t), n, opts)
			} else {
				a.got, a.dup, a.err = q.Enqueue(qctx(t), n, opts)
			}
			answers <- a
		})
	}
	wg.Wait()
	close(answers)
	fresh := map[string]string{} // user/key → id
	var dups []answer
	enqueued := 0
	for a := range answers {
		linked := a.user < fmt.Sprintf("u%d", linkedUsers)
		switch {
		case a.err != nil:
			if !errors.Is(a.err, store.ErrNotFound) || linked {
				t.Errorf("%s for %s: %v", a.sent.ID, a.user, a.err)
			}
		case a.dup:
			dups = append(dups, a)
		default:
			enqueued++
			if a.got.ID != a.sent.ID || a.got.ChatID != a.sent.ChatID || a.got.State != delivery.StateQueued {
				t.Errorf("%s: enqueued %+v", a.sent.ID, a.got)
			}
			if a.key != "" {
				k := a.user + "/" + a.key
				if prev, ok := fresh[k]; ok {
					t.Errorf("key %s enqueued twice: %s and %s", k, prev, a.got.ID)
				}
				fresh[k] = a.got.ID
			}
			if rec := mustGet(t, q, a.sent.ID); rec.ChatID != a.sent.ChatID || rec.UserID != a.user {
				t.Errorf("record %+v, want chat %d of %s", rec, a.sent.ChatID, a.user)
			}
		}
	}
	for _, a := range dups {
		if want := fresh[a.user+"/"+a.key]; a.key == "" || a.got.ID != want {
			t.Errorf("%s: duplicate of %q, want %q", a.sent.ID, a.got.ID, want)
		}
	}
	if enqueued == 0 || len(dups) == 0 {
		t.Fatalf("%d enqueued, %d duplicates: the test exercises neither", enqueued, len(dups))
	}
	checkBacklog(t, q, int64(enqueued), t0)
}

// TestRedisQueueSummaryOfExpiredRecord: the summary outlives its last
// notification's record; it still names it, with no state.
func TestRedisQueueSummaryOfExpiredRecord(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	q := store.NewRedis(rc, "qse").Queue()
	t0 := time.Now().Truncate(time.Millisecond)
	mustEnqueue(t, q, notif("n1", "u1", 42, t0))
	s, err := q.Summary(qctx(t), "u1")
	if err != nil || s.LastID != "n1" || s.LastState != delivery.StateQueued || !s.LastUpdatedAt.Equal(t0) {
		t.Fatalf("Summary = %+v, %v", s, err)
	}
	if err := rc.Del(qctx(t), "qse:n:n1").Err(); err != nil {
		t.Fatal(err)
	}
	s, err = q.Summary(qctx(t), "u1")
	if err != nil || s.LastID != "n1" || s.Queued != 1 || s.LastState != 0 || !s.LastUpdatedAt.IsZero() || s.LastError != "" {
		t.Fatalf("Summary after the record expired = %+v, %v", s, err)
	}
	if s, err := q.Summary(qctx(t), "nobody"); err != nil || s != (delivery.UserSummary{}) {
		t.Fatalf("Summary of a user with none = %+v, %v", s, err)
	}
}
