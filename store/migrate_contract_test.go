package store_test

import (
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// linkedQueue is a queue and the link store its migrations move links of.
type linkedQueue struct {
	q     queue
	links store.Store
}

func TestMemoryMigrationContract(t *testing.T) {
	runMigrationContract(t, func(t *testing.T) linkedQueue {
		m := store.NewMemory()
		return linkedQueue{q: m.Queue(), links: m}
	})
}

func TestRedisMigrationContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runMigrationContract(t, func(t *testing.T) linkedQueue {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("m%d", n.Add(1)))
		return linkedQueue{q: st.Queue(), links: st}
	})
}

// mustLink links user to chat through a fresh token.
func mustLink(t *testing.T, st store.Store, user string, chat int64) {
	t.Helper()
	tok := fmt.Sprintf("tok-%s-%d", user, chat)
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), tok, chat, user, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// drainChats is drainOrder that also checks every claim is of chat want.
func drainChats(t *testing.T, q queue, now time.Time, want int64) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		c, ok, err := q.Claim(qctx(t), now, qClaimOpts)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ids
		}
		if c.ChatID != want || c.Notification.ChatID != want {
			t.Fatalf("claim of %s: chat %d, record chat %d; want %d", c.Notification.ID, c.ChatID, c.Notification.ChatID, want)
		}
		ids = append(ids, c.Notification.ID)
		mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: now}, now)
	}
	t.Fatal("drain did not end")
	return nil
}

// runMigrationContract is finding 4 of issue 8: a group upgraded to a
// supergroup keeps its queued notifications, whichever of the
// migrate_to_chat_id update (UpdateChatID) and the 400 answer of a send
// (Migrate) comes first, also while a send to the old chat is in flight.
// Before the fix the update moved only the links: the backlog stayed on
// the old chat (its claims failed not_linked).
func runMigrationContract(t *testing.T, newQueue func(t *testing.T) linkedQueue) {
	const oldChat, newChat = int64(-10), int64(-1000000000010)
	t0 := time.Now().Truncate(time.Millisecond)
	later := t0.Add(time.Minute) // after the migration's wall-clock "now"
	soon := t0.Add(time.Second)  // the same, within the lease of a claim at t0
	sent := func(at time.Time) delivery.Outcome {
		return delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 7, Attempts: 1, NextAt: at}
	}
	// setup links u to the old chat and queues a, b, c for it.
	setup := func(t *testing.T, lq linkedQueue) {
		mustLink(t, lq.links, "u", oldChat)
		for i, id := range []string{"a", "b", "c"} {
			mustEnqueue(t, lq.q, notif(id, "u", oldChat, t0.Add(time.Duration(i)*time.Millisecond)))
		}
	}
	update := func(t *testing.T, lq linkedQueue, wantUsers ...string) {
		t.Helper()
		users, err := lq.links.UpdateChatID(qctx(t), oldChat, newChat)
		if err != nil || !slices.Equal(users, wantUsers) && !(len(users) == 0 && len(wantUsers) == 0) {
			t.Fatalf("UpdateChatID = %v, %v; want %v", users, err, wantUsers)
		}
	}
	wantLinked := func(t *testing.T, lq linkedQueue, chat int64) {
		t.Helper()
		if l, err := lq.links.GetLink(qctx(t), "u"); err != nil || l.ChatID != chat {
			t.Fatalf("link = %+v, %v; want chat %d", l, err, chat)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, lq linkedQueue)
	}{
		{"update moves the backlog in order in front of the new chat's", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			mustEnqueue(t, lq.q, notif("z", "v", newChat, t0))
			update(t, lq, "u")
			wantLinked(t, lq, newChat)
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"a", "b", "c", "z"}) {
				t.Fatalf("sent %v, want [a b c z]", got)
			}
			if n := mustGet(t, lq.q, "b"); n.ChatID != newChat || n.State != delivery.StateSent {
				t.Fatalf("record b = %+v", n)
			}
			checkBacklog(t, lq.q, 0, time.Time{})
		}},
		{"a second update finds nothing to move", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			update(t, lq, "u")
			update(t, lq)
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("sent %v, want [a b c]", got)
			}
		}},
		{"400 answer first, then the update", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			c := mustClaim(t, lq.q, t0)
			if err := lq.q.Migrate(qctx(t), c, newChat, t0); err != nil {
				t.Fatalf("Migrate = %v", err)
			}
			wantLinked(t, lq, newChat)
			update(t, lq)
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("sent %v, want [a b c]", got)
			}
		}},
		{"update during a send that then succeeds", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			c := mustClaim(t, lq.q, t0)
			update(t, lq, "u")
			mustNoClaim(t, lq.q, soon) // the lease moved with the backlog
			next, ok, err := lq.q.SettleAndClaim(qctx(t), c, sent(soon), soon, qClaimOpts)
			if err != nil || !ok || next.Notification.ID != "b" || next.ChatID != newChat {
				t.Fatalf("SettleAndClaim = %+v ok %v, %v; want b on the new chat", next, ok, err)
			}
			mustSettle(t, lq.q, next, sent(soon), soon)
			if got := drainChats(t, lq.q, soon, newChat); !slices.Equal(got, []string{"c"}) {
				t.Fatalf("sent %v, want [c]", got)
			}
			if n := mustGet(t, lq.q, "a"); n.State != delivery.StateSent || len(n.MessageIDs) != 1 {
				t.Fatalf("record a = %+v", n)
			}
		}},
		{"update during a send that is then retried", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			c := mustClaim(t, lq.q, t0)
			update(t, lq, "u")
			mustSettle(t, lq.q, c, delivery.Outcome{Kind: delivery.OutcomeRetry, Attempts: 1, LastError: "5xx", NextAt: later}, t0)
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("sent %v, want [a b c]", got)
			}
		}},
		{"update during a send that then answers 400 migrated", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			c := mustClaim(t, lq.q, t0)
			update(t, lq, "u")
			if err := lq.q.Migrate(qctx(t), c, newChat, later); err != nil {
				t.Fatalf("Migrate after the update = %v", err)
			}
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("sent %v, want [a b c]", got)
			}
		}},
		{"update during a send whose worker dies", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			c := mustClaim(t, lq.q, t0)
			update(t, lq, "u")
			if got := drainChats(t, lq.q, t0.Add(qLease), newChat); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("sent after the lease expired %v, want [a b c]", got)
			}
			if err := lq.q.Settle(qctx(t), c, sent(t0), t0, qRetention); !errors.Is(err, delivery.ErrLeaseLost) {
				t.Fatalf("stale Settle = %v, want ErrLeaseLost", err)
			}
		}},
		{"update while both chats have a send in flight waits", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			mustEnqueue(t, lq.q, notif("z", "v", newChat, t0.Add(time.Second)))
			c1 := mustClaim(t, lq.q, t0.Add(time.Second))
			c2 := mustClaim(t, lq.q, t0.Add(time.Second))
			if c1.ChatID != oldChat || c2.ChatID != newChat {
				t.Fatalf("claims of chats %d, %d", c1.ChatID, c2.ChatID)
			}
			_, err := lq.links.UpdateChatID(qctx(t), oldChat, newChat)
			if !errors.Is(err, store.ErrMigrationBusy) || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("UpdateChatID = %v, want ErrMigrationBusy", err)
			}
			wantLinked(t, lq, oldChat)
			mustSettle(t, lq.q, c2, sent(t0), t0)
			update(t, lq, "u")
			mustSettle(t, lq.q, c1, sent(soon.Add(time.Second)), soon.Add(time.Second))
			if got := drainChats(t, lq.q, later, newChat); !slices.Equal(got, []string{"b", "c"}) {
				t.Fatalf("sent %v, want [b c]", got)
			}
		}},
		{"the pacing of a scheduled chat moves", func(t *testing.T, lq linkedQueue) {
			setup(t, lq)
			paced := later.Add(5 * time.Second)
			c := mustClaim(t, lq.q, t0)
			mustSettle(t, lq.q, c, sent(paced), t0)
			update(t, lq, "u")
			mustNoClaim(t, lq.q, paced.Add(-time.Millisecond))
			if got := drainChats(t, lq.q, paced, newChat); !slices.Equal(got, []string{"b", "c"}) {
				t.Fatalf("sent %v, want [b c]", got)
			}
		}},
		{"the pacing of an idle chat moves", func(t *testing.T, lq linkedQueue) {
			mustLink(t, lq.links, "u", oldChat)
			mustEnqueue(t, lq.q, notif("a", "u", oldChat, t0))
			paced := later.Add(5 * time.Second)
			mustSettle(t, lq.q, mustClaim(t, lq.q, t0), sent(paced), t0)
			update(t, lq, "u")
			mustEnqueue(t, lq.q, notif("b", "u", newChat, later))
			mustNoClaim(t, lq.q, paced.Add(-time.Millisecond))
			if got := drainChats(t, lq.q, paced, newChat); !slices.Equal(got, []string{"b"}) {
				t.Fatalf("sent %v, want [b]", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newQueue(t)) })
	}
}
