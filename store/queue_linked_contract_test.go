package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// linkedBackend is a queue with the links and the rate limit of its store:
// the whole delivery.Queue contract, which both backends honour alike.
type linkedBackend struct {
	name string
	open func(t *testing.T) (store.Store, delivery.Queue)
}

func linkedBackends(t *testing.T) []linkedBackend {
	srv := redistest.Start(t)
	var n int
	return []linkedBackend{
		{"memory", func(t *testing.T) (store.Store, delivery.Queue) { m := store.NewMemory(); return m, m.Queue() }},
		{"redis", func(t *testing.T) (store.Store, delivery.Queue) {
			n++
			st := store.NewRedis(srv.Client(t), fmt.Sprintf("lq%d", n))
			return st, st.Queue()
		}},
	}
}

// linkUser links user to chat through a fresh token.
func linkUser(t *testing.T, st store.Store, user string, chat int64, at time.Time) {
	t.Helper()
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "t" + user, UserID: user, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), "t"+user, chat, user, at); err != nil {
		t.Fatal(err)
	}
}

func TestQueueClaimReportsLink(t *testing.T) {
	for _, b := range linkedBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st, q := b.open(t)
			t0 := time.Now().Truncate(time.Millisecond)
			linkUser(t, st, "u1", 42, t0)
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
		})
	}
}

func TestQueueEnqueueLinkedAndUnlinkFromChat(t *testing.T) {
	for _, b := range linkedBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st, q := b.open(t)
			t0 := time.Now().Truncate(time.Millisecond)
			if _, _, err := q.EnqueueLinked(qctx(t), notif("x", "u1", 0, t0), qOpts); !errors.Is(err, delivery.ErrNotLinked) {
				t.Fatalf("EnqueueLinked of an unlinked user = %v; want ErrNotLinked", err)
			}
			linkUser(t, st, "u1", 42, t0)
			got, dup, err := q.EnqueueLinked(qctx(t), notif("y", "u1", 0, t0), qOpts)
			if err != nil || dup || got.ChatID != 42 {
				t.Fatalf("EnqueueLinked = %+v, %v, %v; want chat 42", got, dup, err)
			}
			if err := q.UnlinkFromChat(qctx(t), "u1", 7); err != nil { // not that chat: nothing, no error
				t.Fatal(err)
			}
			if _, err := st.GetLink(qctx(t), "u1"); err != nil {
				t.Fatalf("link after UnlinkFromChat of another chat: %v", err)
			}
			if err := q.UnlinkFromChat(qctx(t), "u1", 42); err != nil {
				t.Fatal(err)
			}
			if _, err := st.GetLink(qctx(t), "u1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("link after UnlinkFromChat = %v; want none", err)
			}
		})
	}
}

func TestQueueClaimReservesGlobalSlot(t *testing.T) {
	for _, b := range linkedBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st, q := b.open(t)
			t0 := time.Now().Truncate(time.Millisecond)
			linkUser(t, st, "u1", 1, t0)
			linkUser(t, st, "u3", 3, t0)
			linkUser(t, st, "u4", 4, t0)
			mustEnqueue(t, q, notif("a", "u1", 1, t0))
			mustEnqueue(t, q, notif("b", "u2", 2, t0.Add(time.Millisecond)))    // not linked
			mustEnqueue(t, q, notif("c", "u3", 33, t0.Add(2*time.Millisecond))) // linked to another chat
			mustEnqueue(t, q, notif("d", "u4", 4, t0.Add(-2*time.Hour)))        // older than MaxAge
			mustEnqueue(t, q, notif("e", "u1", 1, t0.Add(3*time.Millisecond)))  // behind a
			mustEnqueue(t, q, delivery.Notification{ID: "r", ChatID: 5, Parts: []string{"hi"}, Reply: true,
				CreatedAt: t0.Add(4 * time.Millisecond)}) // a reply: a slot without a link
			opts := delivery.ClaimOptions{Lease: qLease, Retention: qRetention, MaxAge: time.Hour,
				Limit: delivery.RateLimit{Name: "global", Rate: 1, Burst: 2}}
			now := t0.Add(time.Second)
			got := map[string]delivery.Claim{}
			for range 5 {
				c, ok, err := q.Claim(qctx(t), now, opts)
				if err != nil || !ok {
					t.Fatalf("Claim = %v, %v", ok, err)
				}
				got[c.Notification.ID] = c
			}
			for _, id := range []string{"a", "r"} {
				if c := got[id]; !c.Reserved || c.Wait > 5*time.Millisecond {
					t.Fatalf("claim of %s = %+v; want a slot now", id, c)
				}
			}
			for _, id := range []string{"b", "c", "d"} {
				if c, ok := got[id]; !ok || c.Reserved {
					t.Fatalf("claim of %s = %+v (claimed %v); want claimed without a slot", id, c, ok)
				}
			}
			// Two slots were taken (the burst): the next is one interval (1 s) later.
			if w, p, err := q.Acquire(qctx(t), "global", 1, 2, time.Hour); err != nil || p != 0 || w < 500*time.Millisecond || w > time.Second {
				t.Fatalf("Acquire after the claims = %v, %v, %v; want about 1s", w, p, err)
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
		})
	}
}

// Finding 1 of the Hardening issue: a claim whose slot lies past what it may
// wait takes neither the chat nor the slot, however many workers ask, so the
// limit never runs away from the work it paces.
func TestQueueClaimThrottledTakesNothing(t *testing.T) {
	for _, b := range linkedBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st, q := b.open(t)
			t0 := time.Now().Truncate(time.Millisecond)
			for i := range 3 {
				user, chat := fmt.Sprintf("u%d", i), int64(i+1)
				linkUser(t, st, user, chat, t0)
				mustEnqueue(t, q, notif(fmt.Sprintf("n%d", i), user, chat, t0))
			}
			start := time.Now()
			opts := delivery.ClaimOptions{Lease: qLease, Retention: qRetention, MaxAge: time.Hour, MaxWait: 200 * time.Millisecond,
				Limit: delivery.RateLimit{Name: "global", Rate: 1, Burst: 1}}
			c, ok, err := q.Claim(qctx(t), t0, opts)
			if err != nil || !ok || !c.Reserved || c.Wait > 5*time.Millisecond {
				t.Fatalf("first Claim = %+v, %v, %v; want a claim with a slot now", c, ok, err)
			}
			// The next slot is 1 s away, past the 200 ms max wait: 500 claims
			// take nothing and say how long until a slot is within reach.
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
		})
	}
}
