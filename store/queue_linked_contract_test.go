package store_test

// The linked-queue contract: what delivery.Queue promises beyond a plain
// queue (the link read with an enqueue and with a claim, the global slot
// reserved by a claim, the pause and the throttle), run over both
// backends so that the sandbox, the tests and production run the same
// dispatcher code.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestMemoryLinkedQueueContract(t *testing.T) {
	runLinkedQueueContract(t, func(t *testing.T) linkedQueue {
		m := store.NewMemory()
		return linkedQueue{q: m.Queue(), links: m}
	})
}

func TestRedisLinkedQueueContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runLinkedQueueContract(t, func(t *testing.T) linkedQueue {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("lq%d", n.Add(1)))
		return linkedQueue{q: st.Queue(), links: st}
	})
}

func runLinkedQueueContract(t *testing.T, newQueue func(t *testing.T) linkedQueue) {
	tests := []struct {
		name string
		run  func(t *testing.T, lq linkedQueue)
	}{
		{"enqueue linked", testEnqueueLinked},
		{"claim reports link", testClaimReportsLink},
		{"claim reserves global slot", testClaimReservesGlobalSlot},
		{"claim throttled takes nothing", testClaimThrottledTakesNothing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newQueue(t)) })
	}
}

func testEnqueueLinked(t *testing.T, lq linkedQueue) {
	q, st := lq.q, lq.links
	t0 := time.Now().Truncate(time.Millisecond)
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), "tok", -1001234, "alice", t0); err != nil {
		t.Fatal(err)
	}
	opts := delivery.EnqueueOptions{Retention: time.Hour, IdempotencyTTL: time.Hour}

	// Not linked: nothing written, even with a fresh idempotency key.
	n := notif("x", "u2", 0, t0)
	n.IdempotencyKey = "k"
	if _, _, err := q.EnqueueLinked(qctx(t), n, opts); !errors.Is(err, store.ErrNotFound) ||
		!errors.Is(err, delivery.ErrNotLinked) {
		t.Fatalf("EnqueueLinked of an unlinked user: err = %v; want ErrNotFound and ErrNotLinked", err)
	}
	if _, err := q.Get(qctx(t), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after a refused enqueue: err = %v; want ErrNotFound", err)
	}

	// Linked: the chat comes from the link (n.ChatID is ignored).
	n = notif("a", "u1", 7, t0)
	n.IdempotencyKey = "k"
	got, dup, err := q.EnqueueLinked(qctx(t), n, opts)
	if err != nil || dup || got.ChatID != -1001234 || got.State != delivery.StateQueued {
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

func testClaimReportsLink(t *testing.T, lq linkedQueue) {
	q, st := lq.q, lq.links
	t0 := time.Now().Truncate(time.Millisecond)
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), "tok", 42, "alice", t0); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, notif("a", "u1", 42, t0))
	mustEnqueue(t, q, notif("b", "u2", 43, t0.Add(time.Millisecond))) // u2 is not linked
	c := mustClaim(t, q, t0.Add(time.Second))
	if c.Notification.ID != "a" || c.LinkedChat != 42 {
		t.Fatalf("claim = %+v; want a, linked to 42", c)
	}
	if err := st.Unlink(qctx(t), "u1"); err != nil {
		t.Fatal(err)
	}
	next, ok, err := q.SettleAndClaim(qctx(t), c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0},
		t0.Add(time.Second), qClaimOpts)
	if err != nil || !ok || next.Notification.ID != "b" || next.LinkedChat != 0 {
		t.Fatalf("SettleAndClaim = %+v, %v, %v; want b, not linked", next, ok, err)
	}
}

func testClaimReservesGlobalSlot(t *testing.T, lq linkedQueue) {
	q, st := lq.q, lq.links
	t0 := time.Now().Truncate(time.Millisecond)
	link := func(user string, chat int64) {
		t.Helper()
		if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "t" + user, UserID: user, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(qctx(t), "t"+user, chat, user, t0); err != nil {
			t.Fatal(err)
		}
	}
	link("u1", 1)
	link("u3", 3)
	link("u4", 4)
	mustEnqueue(t, q, notif("a", "u1", 1, t0))
	mustEnqueue(t, q, notif("b", "u2", 2, t0.Add(time.Millisecond)))    // not linked
	mustEnqueue(t, q, notif("c", "u3", 33, t0.Add(2*time.Millisecond))) // linked to another chat
	mustEnqueue(t, q, notif("d", "u4", 4, t0.Add(-2*time.Hour)))        // older than MaxAge
	mustEnqueue(t, q, notif("e", "u1", 1, t0.Add(3*time.Millisecond)))  // behind a
	opts := delivery.ClaimOptions{Lease: qLease, Retention: qRetention, MaxAge: time.Hour,
		Limit: delivery.RateLimit{Name: "global", Rate: 1, Burst: 1}}
	now := t0.Add(time.Second)
	got := map[string]delivery.Claim{}
	for range 4 {
		c, ok, err := q.Claim(qctx(t), now, opts)
		if err != nil || !ok {
			t.Fatalf("Claim = %v, %v", ok, err)
		}
		got[c.Notification.ID] = c
	}
	if c := got["a"]; !c.Reserved || c.Wait > 5*time.Millisecond || c.LinkedChat != 1 {
		t.Fatalf("claim of a = %+v; want a slot now", c)
	}
	for _, id := range []string{"b", "c", "d"} {
		if c, ok := got[id]; !ok || c.Reserved {
			t.Fatalf("claim of %s = %+v (claimed %v); want claimed without a slot", id, c, ok)
		}
	}
	// One slot was taken: the next is one interval (1 s) later, not four.
	if w, _, err := q.Acquire(qctx(t), "global", 1, 1, time.Hour); err != nil || w < 500*time.Millisecond || w > time.Second {
		t.Fatalf("Acquire after the claims = %v, %v; want about 1s", w, err)
	}
	// The pause stops claims (and settles still go through).
	if err := q.Pause(qctx(t), time.Second); err != nil {
		t.Fatal(err)
	}
	next, ok, err := q.SettleAndClaim(qctx(t), got["a"], delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: now}, now, opts)
	if err != nil || ok || next.Paused <= 500*time.Millisecond || next.Paused > time.Second {
		t.Fatalf("SettleAndClaim while paused = %+v, %v, %v; want settled, paused about 1s", next, ok, err)
	}
	if n := mustGet(t, q, "a"); n.State != delivery.StateSent {
		t.Fatalf("a = %+v; want SENT", n)
	}
	if c, ok, err := q.Claim(qctx(t), now, opts); err != nil || ok || c.Paused <= 0 {
		t.Fatalf("Claim while paused = %+v, %v, %v", c, ok, err)
	}
	if c := mustClaim(t, q, now); c.Notification.ID != "e" || c.Reserved { // no limit given: the pause does not apply
		t.Fatalf("claim without a limit = %+v", c)
	}
}

// Finding 1 of the Hardening issue: a claim whose slot lies past what it may
// wait takes neither the chat nor the slot, however many workers ask, so the
// limit never runs away from the work it paces.
func testClaimThrottledTakesNothing(t *testing.T, lq linkedQueue) {
	q, st := lq.q, lq.links
	t0 := time.Now().Truncate(time.Millisecond)
	for i := range 3 {
		user, chat := fmt.Sprintf("u%d", i), int64(i+1)
		if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "t" + user, UserID: user, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(qctx(t), "t"+user, chat, user, t0); err != nil {
			t.Fatal(err)
		}
		mustEnqueue(t, q, notif(fmt.Sprintf("n%d", i), user, chat, t0))
	}
	start := time.Now()
	opts := delivery.ClaimOptions{Lease: qLease, Retention: qRetention, MaxAge: time.Hour, MaxWait: 200 * time.Millisecond,
		Limit: delivery.RateLimit{Name: "global", Rate: 1, Burst: 1}}
	c, ok, err := q.Claim(qctx(t), t0, opts)
	if err != nil || !ok || !c.Reserved || c.Wait > 5*time.Millisecond {
		t.Fatalf("first Claim = %+v, %v, %v; want a claim with a slot now", c, ok, err)
	}
	// The next slot is 1 s away, past the 200 ms max wait: 500 claims take
	// nothing and say how long until a slot is within reach.
	for i := 0; i < 500 && time.Since(start) < 500*time.Millisecond; i++ {
		c, ok, err := q.Claim(qctx(t), t0, opts)
		if err != nil || ok || c.Throttled <= 0 || c.Throttled > 800*time.Millisecond {
			t.Fatalf("saturated Claim %d = %+v, %v, %v; want nothing claimed, throttled ≤ 800ms", i, c, ok, err)
		}
	}
	for _, id := range []string{"n1", "n2"} {
		if n := mustGet(t, q, id); n.State != delivery.StateQueued {
			t.Fatalf("%s = %v after the throttled claims; want QUEUED (not claimed)", id, n.State)
		}
	}
	// The refused claims took no slot: the next is the second, 1 s after the first.
	if w, _, err := q.Acquire(qctx(t), "global", 1, 1, time.Hour); err != nil || w+time.Since(start) > 1100*time.Millisecond {
		t.Fatalf("Acquire after the throttled claims = %v, %v; want the second slot (1 s after the start)", w, err)
	}
	// SettleAndClaim reports the throttle too.
	next, ok, err := q.SettleAndClaim(qctx(t), c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0, opts)
	if err != nil || ok || next.Throttled <= 0 {
		t.Fatalf("SettleAndClaim = %+v, %v, %v; want settled and throttled", next, ok, err)
	}
}
