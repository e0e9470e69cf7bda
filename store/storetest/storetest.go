// Package storetest is the contract suite every [store.Store] implementation
// must pass. Call [Run] from a test of the implementation:
//
//	func TestMemoryContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
//	}
//
// Each subtest asks newStore for a fresh, empty store, so implementations
// sharing a backend must isolate subtests (for Redis: a unique key prefix).
// Expiry is tested with short real TTLs and polling, never with sleeps used as
// synchronisation.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/events"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
)

// opTimeout bounds every single store call made by the suite.
const opTimeout = 5 * time.Second

// expiryTimeout bounds how long the suite waits for a short TTL to lapse.
const expiryTimeout = 5 * time.Second

// Run runs the contract suite against stores built by newStore. newStore is
// called once per subtest and must return an empty store; it should register
// its own cleanup (closing the store twice must be harmless).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T) store.Store)
	}{
		{"LinkToken", testLinkToken},
		{"Consume", testConsume},
		{"ConsumeConcurrent", testConsumeConcurrent},
		{"Link", testLink},
		{"GroupLink", testGroupLink},
		{"UpdateChatID", testUpdateChatID},
		{"Updates", testUpdates},
		{"PollOffset", testPollOffset},
		{"Lease", testLease},
		{"Lifecycle", testLifecycle},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, newStore) })
	}
}

// ctx returns a context bounded by opTimeout that is cancelled when t ends.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond every few milliseconds until it returns true or
// timeout elapses, then fails the test.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Eventually(t, timeout, what, cond)
}

// sameMillis reports whether a and b denote the same instant to the
// millisecond, the precision every store must keep.
func sameMillis(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

// sorted returns a sorted copy of s (never nil).
func sorted(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

func mustPut(t *testing.T, st store.Store, tok store.LinkToken) {
	t.Helper()
	if err := st.PutLinkToken(ctx(t), tok); err != nil {
		t.Fatalf("PutLinkToken(%+v): %v", tok, err)
	}
}

func mustConsume(t *testing.T, st store.Store, token string, chat int64, username string) store.Link {
	t.Helper()
	link, err := st.ConsumeLinkToken(ctx(t), token, chat, username, time.Now())
	if err != nil {
		t.Fatalf("ConsumeLinkToken(%q, %d): %v", token, chat, err)
	}
	return link
}

// link mints a token for user and consumes it from chat.
func link(t *testing.T, st store.Store, user string, chat int64) store.Link {
	t.Helper()
	tok := fmt.Sprintf("tok-%s-%d-%d", user, chat, time.Now().UnixNano())
	mustPut(t, st, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)})
	return mustConsume(t, st, tok, chat, "name-"+user)
}

func wantLink(t *testing.T, st store.Store, user string, chat int64) {
	t.Helper()
	got, err := st.GetLink(ctx(t), user)
	if err != nil {
		t.Fatalf("GetLink(%q): %v", user, err)
	}
	if got.UserID != user || got.ChatID != chat {
		t.Fatalf("GetLink(%q) = %+v, want chat %d", user, got, chat)
	}
}

func wantNoLink(t *testing.T, st store.Store, user string) {
	t.Helper()
	if got, err := st.GetLink(ctx(t), user); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetLink(%q) = %+v, %v; want ErrNotFound", user, got, err)
	}
}

func wantNoToken(t *testing.T, st store.Store, user string) {
	t.Helper()
	if got, err := st.UserLinkToken(ctx(t), user); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserLinkToken(%q) = %+v, %v; want ErrNotFound", user, got, err)
	}
}

// chatUsers reports the users linked to chat by unlinking it; only for use at
// the end of a subtest.
func chatUsers(t *testing.T, st store.Store, chat int64) []string {
	t.Helper()
	users, err := st.UnlinkChat(ctx(t), chat, events.ReasonStop)
	if err != nil {
		t.Fatalf("UnlinkChat(%d): %v", chat, err)
	}
	return sorted(users)
}

// storeCase is one subtest of a contract test, run on a fresh store.
type storeCase struct {
	name string
	run  func(t *testing.T, st store.Store)
}

// runCases runs each case as a subtest on its own store from newStore.
func runCases(t *testing.T, newStore func(t *testing.T) store.Store, cases []storeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

func testLinkToken(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []storeCase{
		{"unknown user has no token", func(t *testing.T, st store.Store) {
			wantNoToken(t, st, "nobody")
		}},
		{"put then get", func(t *testing.T, st store.Store) {
			exp := time.Now().Add(time.Hour)
			mustPut(t, st, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: exp})
			got, err := st.UserLinkToken(ctx(t), "u1")
			if err != nil {
				t.Fatalf("UserLinkToken: %v", err)
			}
			if got.Token != "t1" || got.UserID != "u1" || !sameMillis(got.ExpiresAt, exp) {
				t.Fatalf("UserLinkToken = %+v, want t1/u1 expiring %v", got, exp)
			}
			wantNoToken(t, st, "u2")
		}},
		{"newer token becomes current, older stays valid", func(t *testing.T, st store.Store) {
			exp := time.Now().Add(time.Hour)
			mustPut(t, st, store.LinkToken{Token: "old", UserID: "u1", ExpiresAt: exp})
			mustPut(t, st, store.LinkToken{Token: "new", UserID: "u1", ExpiresAt: exp})
			if got, err := st.UserLinkToken(ctx(t), "u1"); err != nil || got.Token != "new" {
				t.Fatalf("UserLinkToken = %+v, %v; want new", got, err)
			}
			mustConsume(t, st, "old", 10, "a")
			if got, err := st.UserLinkToken(ctx(t), "u1"); err != nil || got.Token != "new" {
				t.Fatalf("after consuming old: UserLinkToken = %+v, %v; want new", got, err)
			}
		}},
		{"expiry in the past is never live", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(-time.Minute)})
			wantNoToken(t, st, "u1")
			if _, err := st.ConsumeLinkToken(ctx(t), "t1", 10, "a", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
				t.Fatalf("ConsumeLinkToken(expired) = %v, want ErrTokenInvalid", err)
			}
		}},
		{"token expires at ExpiresAt", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(150 * time.Millisecond)})
			if _, err := st.UserLinkToken(ctx(t), "u1"); err != nil {
				t.Fatalf("UserLinkToken before expiry: %v", err)
			}
			eventually(t, expiryTimeout, "token of u1 expires", func() bool {
				_, err := st.UserLinkToken(ctx(t), "u1")
				return errors.Is(err, store.ErrNotFound)
			})
			if _, err := st.ConsumeLinkToken(ctx(t), "t1", 10, "a", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
				t.Fatalf("ConsumeLinkToken after expiry = %v, want ErrTokenInvalid", err)
			}
			wantNoLink(t, st, "u1")
		}},
		{"used token is not current", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			mustConsume(t, st, "t1", 10, "a")
			wantNoToken(t, st, "u1")
		}},
		{"empty token or user rejected", func(t *testing.T, st store.Store) {
			for _, tok := range []store.LinkToken{
				{Token: "", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)},
				{Token: "t1", UserID: "", ExpiresAt: time.Now().Add(time.Hour)},
			} {
				if err := st.PutLinkToken(ctx(t), tok); err == nil {
					t.Errorf("PutLinkToken(%+v) succeeded, want error", tok)
				}
			}
		}},
	})
}

func testConsume(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []storeCase{
		{"links user and is single use", consumeLinksOnce},
		{"unknown token changes nothing", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 10)
			mustPut(t, st, store.LinkToken{Token: "live", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			for _, tok := range []string{"nope", ""} {
				if _, err := st.ConsumeLinkToken(ctx(t), tok, 20, "x", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
					t.Fatalf("ConsumeLinkToken(%q) = %v, want ErrTokenInvalid", tok, err)
				}
			}
			wantLink(t, st, "u1", 10)
			if got, err := st.UserLinkToken(ctx(t), "u1"); err != nil || got.Token != "live" {
				t.Fatalf("UserLinkToken = %+v, %v; want live", got, err)
			}
			if got := chatUsers(t, st, 20); len(got) != 0 {
				t.Fatalf("chat 20 users = %v, want none", got)
			}
		}},
		{"expired token changes nothing", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 10)
			mustPut(t, st, store.LinkToken{Token: "short", UserID: "u1", ExpiresAt: time.Now().Add(100 * time.Millisecond)})
			eventually(t, expiryTimeout, "token short expires", func() bool {
				_, err := st.UserLinkToken(ctx(t), "u1")
				return errors.Is(err, store.ErrNotFound)
			})
			if _, err := st.ConsumeLinkToken(ctx(t), "short", 20, "x", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
				t.Fatalf("ConsumeLinkToken(expired) = %v, want ErrTokenInvalid", err)
			}
			wantLink(t, st, "u1", 10)
			if got := chatUsers(t, st, 20); len(got) != 0 {
				t.Fatalf("chat 20 users = %v, want none", got)
			}
		}},
		{"relink replaces old link and old chat index", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 10)
			link(t, st, "u2", 10)
			link(t, st, "u1", 20)
			wantLink(t, st, "u1", 20)
			wantLink(t, st, "u2", 10)
			if got := chatUsers(t, st, 10); !slices.Equal(got, []string{"u2"}) {
				t.Fatalf("chat 10 users = %v, want [u2]", got)
			}
			if got := chatUsers(t, st, 20); !slices.Equal(got, []string{"u1"}) {
				t.Fatalf("chat 20 users = %v, want [u1]", got)
			}
		}},
		{"relink to the same chat keeps one entry", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 10)
			link(t, st, "u1", 10)
			if got := chatUsers(t, st, 10); !slices.Equal(got, []string{"u1"}) {
				t.Fatalf("chat 10 users = %v, want [u1]", got)
			}
		}},
	})
}

func testConsumeConcurrent(t *testing.T, newStore func(t *testing.T) store.Store) {
	const workers = 20
	st := newStore(t)
	mustPut(t, st, store.LinkToken{Token: "race", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
	c := ctx(t)
	start := make(chan struct{})
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			_, errs[i] = st.ConsumeLinkToken(c, "race", int64(100+i), fmt.Sprintf("w%d", i), time.Now())
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrTokenInvalid):
			t.Errorf("worker %d: %v, want nil or ErrTokenInvalid", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d workers consumed the token, want exactly 1", wins)
	}
	got, err := st.GetLink(c, "u1")
	if err != nil {
		t.Fatalf("GetLink: %v", err)
	}
	winner := got.ChatID - 100
	if winner < 0 || winner >= workers || errs[winner] != nil {
		t.Fatalf("link %+v does not belong to the winning worker", got)
	}
}

func testLink(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []storeCase{
		{"get unknown link", func(t *testing.T, st store.Store) {
			wantNoLink(t, st, "nobody")
		}},
		{"unlink removes link and chat index entry", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 10)
			link(t, st, "u2", 10)
			if err := st.Unlink(ctx(t), "u1"); err != nil {
				t.Fatalf("Unlink: %v", err)
			}
			wantNoLink(t, st, "u1")
			if err := st.Unlink(ctx(t), "u1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("second Unlink = %v, want ErrNotFound", err)
			}
			if got := chatUsers(t, st, 10); !slices.Equal(got, []string{"u2"}) {
				t.Fatalf("chat 10 users = %v, want [u2]", got)
			}
		}},
		{"unlink from chat removes only a link to that chat", unlinkFromChatOnly},
		{"unlink of never linked user", func(t *testing.T, st store.Store) {
			if err := st.Unlink(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Unlink = %v, want ErrNotFound", err)
			}
		}},
		{"unlink chat returns all its users", unlinkChatAll},
		{"unlink chat with no users", func(t *testing.T, st store.Store) {
			users, err := st.UnlinkChat(ctx(t), 42, events.ReasonStop)
			if err != nil || len(users) != 0 {
				t.Fatalf("UnlinkChat(42) = %v, %v; want empty", users, err)
			}
		}},
	})
}

func testUpdateChatID(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []storeCase{
		{"moves every link of the chat", func(t *testing.T, st store.Store) {
			link(t, st, "u1", -10)
			link(t, st, "u2", -10)
			link(t, st, "u3", -20)
			moved, err := st.UpdateChatID(ctx(t), -10, -1000000000010)
			if err != nil {
				t.Fatalf("UpdateChatID: %v", err)
			}
			if got := sorted(moved); !slices.Equal(got, []string{"u1", "u2"}) {
				t.Fatalf("UpdateChatID moved %v, want [u1 u2]", got)
			}
			wantLink(t, st, "u1", -1000000000010)
			wantLink(t, st, "u2", -1000000000010)
			wantLink(t, st, "u3", -20)
			if got := chatUsers(t, st, -10); len(got) != 0 {
				t.Fatalf("old chat users = %v, want none", got)
			}
			if got := chatUsers(t, st, -1000000000010); !slices.Equal(got, []string{"u1", "u2"}) {
				t.Fatalf("new chat users = %v, want [u1 u2]", got)
			}
		}},
		{"merges into a chat that already has users", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 1)
			link(t, st, "u2", 2)
			moved, err := st.UpdateChatID(ctx(t), 1, 2)
			if err != nil || !slices.Equal(sorted(moved), []string{"u1"}) {
				t.Fatalf("UpdateChatID = %v, %v; want [u1]", moved, err)
			}
			if got := chatUsers(t, st, 2); !slices.Equal(got, []string{"u1", "u2"}) {
				t.Fatalf("chat 2 users = %v, want [u1 u2]", got)
			}
		}},
		{"unknown chat moves nothing", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 1)
			moved, err := st.UpdateChatID(ctx(t), 5, 6)
			if err != nil || len(moved) != 0 {
				t.Fatalf("UpdateChatID = %v, %v; want empty", moved, err)
			}
			wantLink(t, st, "u1", 1)
		}},
		{"same id is a no-op", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 7)
			moved, err := st.UpdateChatID(ctx(t), 7, 7)
			if err != nil || !slices.Equal(sorted(moved), []string{"u1"}) {
				t.Fatalf("UpdateChatID(7, 7) = %v, %v; want [u1]", moved, err)
			}
			wantLink(t, st, "u1", 7)
			if got := chatUsers(t, st, 7); !slices.Equal(got, []string{"u1"}) {
				t.Fatalf("chat 7 users = %v, want [u1]", got)
			}
		}},
		{"moved user can be unlinked and relinked", func(t *testing.T, st store.Store) {
			link(t, st, "u1", 1)
			if _, err := st.UpdateChatID(ctx(t), 1, 2); err != nil {
				t.Fatalf("UpdateChatID: %v", err)
			}
			link(t, st, "u1", 3)
			if got := chatUsers(t, st, 2); len(got) != 0 {
				t.Fatalf("chat 2 users = %v, want none after relink", got)
			}
			if err := st.Unlink(ctx(t), "u1"); err != nil {
				t.Fatalf("Unlink: %v", err)
			}
		}},
	})
}

func claim(t *testing.T, st store.Store, id int64, ttl time.Duration) store.UpdateState {
	t.Helper()
	s, err := st.ClaimUpdate(ctx(t), id, ttl)
	if err != nil {
		t.Fatalf("ClaimUpdate(%d): %v", id, err)
	}
	return s
}

func wantClaim(t *testing.T, st store.Store, id int64, ttl time.Duration, want store.UpdateState) {
	t.Helper()
	if got := claim(t, st, id, ttl); got != want {
		t.Fatalf("ClaimUpdate(%d) = %v, want %v", id, got, want)
	}
}

func testUpdates(t *testing.T, newStore func(t *testing.T) store.Store) {
	const long = time.Hour
	runCases(t, newStore, []storeCase{
		{"first claim wins, second sees in progress", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, long, store.UpdateClaimed)
			wantClaim(t, st, 1, long, store.UpdateInProgress)
			wantClaim(t, st, 2, long, store.UpdateClaimed)
		}},
		{"complete makes it done", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, long, store.UpdateClaimed)
			if err := st.CompleteUpdate(ctx(t), 1, long); err != nil {
				t.Fatalf("CompleteUpdate: %v", err)
			}
			wantClaim(t, st, 1, long, store.UpdateDone)
		}},
		{"release allows a new claim", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, long, store.UpdateClaimed)
			if err := st.ReleaseUpdate(ctx(t), 1); err != nil {
				t.Fatalf("ReleaseUpdate: %v", err)
			}
			wantClaim(t, st, 1, long, store.UpdateClaimed)
		}},
		{"release does not undo done", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, long, store.UpdateClaimed)
			if err := st.CompleteUpdate(ctx(t), 1, long); err != nil {
				t.Fatalf("CompleteUpdate: %v", err)
			}
			if err := st.ReleaseUpdate(ctx(t), 1); err != nil {
				t.Fatalf("ReleaseUpdate: %v", err)
			}
			wantClaim(t, st, 1, long, store.UpdateDone)
		}},
		{"release of unknown update is fine", func(t *testing.T, st store.Store) {
			if err := st.ReleaseUpdate(ctx(t), 99); err != nil {
				t.Fatalf("ReleaseUpdate: %v", err)
			}
			wantClaim(t, st, 99, long, store.UpdateClaimed)
		}},
		{"claim lapses after claimTTL", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, 100*time.Millisecond, store.UpdateClaimed)
			eventually(t, expiryTimeout, "claim of update 1 lapses", func() bool {
				return claim(t, st, 1, long) == store.UpdateClaimed
			})
			wantClaim(t, st, 1, long, store.UpdateInProgress)
		}},
		{"done is forgotten after keep", func(t *testing.T, st store.Store) {
			wantClaim(t, st, 1, long, store.UpdateClaimed)
			if err := st.CompleteUpdate(ctx(t), 1, 150*time.Millisecond); err != nil {
				t.Fatalf("CompleteUpdate: %v", err)
			}
			wantClaim(t, st, 1, long, store.UpdateDone)
			eventually(t, expiryTimeout, "done record of update 1 lapses", func() bool {
				return claim(t, st, 1, long) == store.UpdateClaimed
			})
		}},
		{"complete without claim", func(t *testing.T, st store.Store) {
			if err := st.CompleteUpdate(ctx(t), 5, long); err != nil {
				t.Fatalf("CompleteUpdate: %v", err)
			}
			wantClaim(t, st, 5, long, store.UpdateDone)
		}},
		{"concurrent claims: exactly one wins", claimConcurrent},
		{"non-positive TTL rejected", func(t *testing.T, st store.Store) {
			if _, err := st.ClaimUpdate(ctx(t), 1, 0); err == nil {
				t.Error("ClaimUpdate with TTL 0 succeeded, want error")
			}
			if err := st.CompleteUpdate(ctx(t), 1, -time.Second); err == nil {
				t.Error("CompleteUpdate with negative keep succeeded, want error")
			}
			wantClaim(t, st, 1, long, store.UpdateClaimed)
		}},
	})
}

func testPollOffset(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name   string
		writes []int64
		want   int64
	}{
		{"zero when unset", nil, 0},
		{"set then get", []int64{42}, 42},
		{"last write wins", []int64{42, 7, 1 << 40}, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			for _, w := range tt.writes {
				if err := st.SetPollOffset(ctx(t), w); err != nil {
					t.Fatalf("SetPollOffset(%d): %v", w, err)
				}
			}
			got, err := st.PollOffset(ctx(t))
			if err != nil || got != tt.want {
				t.Fatalf("PollOffset = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func testLifecycle(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("ping", func(t *testing.T) {
		if err := newStore(t).Ping(ctx(t)); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("closed store is unavailable", func(t *testing.T) {
		st := newStore(t)
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := st.Ping(ctx(t)); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Ping after Close = %v, want ErrUnavailable", err)
		}
		if _, err := st.GetLink(ctx(t), "u1"); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("GetLink after Close = %v, want ErrUnavailable", err)
		}
		if _, err := st.ClaimUpdate(ctx(t), 1, time.Minute); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("ClaimUpdate after Close = %v, want ErrUnavailable", err)
		}
		_ = st.Close() // a second Close must not panic
	})
}

func testLease(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("one holder at a time, renew, release, fence", func(t *testing.T) {
		st := newStore(t)
		got, err := st.AcquireLease(ctx(t), "poller", "a", time.Minute)
		if err != nil || !got {
			t.Fatalf("a acquires a free lease = %v, %v", got, err)
		}
		if got, err := st.AcquireLease(ctx(t), "poller", "b", time.Minute); err != nil || got {
			t.Fatalf("b acquires a held lease = %v, %v; want false", got, err)
		}
		if got, err := st.AcquireLease(ctx(t), "poller", "a", time.Minute); err != nil || !got {
			t.Fatalf("a renews = %v, %v", got, err)
		}
		if err := st.SetPollOffsetLeased(ctx(t), "poller", "a", 77); err != nil {
			t.Fatalf("holder writes offset: %v", err)
		}
		if err := st.SetPollOffsetLeased(ctx(t), "poller", "b", 99); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("non-holder writes offset: %v, want ErrLeaseLost", err)
		}
		if off, _ := st.PollOffset(ctx(t)); off != 77 {
			t.Fatalf("offset = %d, want 77 (the fenced write must not land)", off)
		}
		if err := st.ReleaseLease(ctx(t), "poller", "b"); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.AcquireLease(ctx(t), "poller", "b", time.Minute); got {
			t.Fatal("a release by a non-holder freed the lease")
		}
		if err := st.ReleaseLease(ctx(t), "poller", "a"); err != nil {
			t.Fatal(err)
		}
		if got, err := st.AcquireLease(ctx(t), "poller", "b", time.Minute); err != nil || !got {
			t.Fatalf("b after release = %v, %v", got, err)
		}
	})
	t.Run("expired lease is taken over", func(t *testing.T) {
		st := newStore(t)
		if got, err := st.AcquireLease(ctx(t), "poller", "a", 50*time.Millisecond); err != nil || !got {
			t.Fatalf("acquire = %v, %v", got, err)
		}
		eventually(t, 5*time.Second, "b takes over the expired lease", func() bool {
			got, err := st.AcquireLease(ctx(t), "poller", "b", time.Minute)
			return err == nil && got
		})
		if err := st.SetPollOffsetLeased(ctx(t), "poller", "a", 5); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("old holder writes after takeover: %v, want ErrLeaseLost", err)
		}
	})
	t.Run("bad ttl", func(t *testing.T) {
		st := newStore(t)
		if _, err := st.AcquireLease(ctx(t), "poller", "a", 0); err == nil {
			t.Fatal("zero TTL accepted")
		}
	})
}

// consumeLinksOnce checks that consuming a token links its user, and that a token works once.
func consumeLinksOnce(t *testing.T, st store.Store) {
	mustPut(t, st, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
	now := time.Now()
	got, err := st.ConsumeLinkToken(ctx(t), "t1", -1001234567890, "alice", now)
	if err != nil {
		t.Fatalf("ConsumeLinkToken: %v", err)
	}
	want := store.Link{UserID: "u1", ChatID: -1001234567890, Username: "alice"}
	if got.UserID != want.UserID || got.ChatID != want.ChatID || got.Username != want.Username || !sameMillis(got.LinkedAt, now) {
		t.Fatalf("ConsumeLinkToken = %+v, want %+v linked at %v", got, want, now)
	}
	stored, err := st.GetLink(ctx(t), "u1")
	if err != nil {
		t.Fatalf("GetLink: %v", err)
	}
	if stored.UserID != want.UserID || stored.ChatID != want.ChatID || stored.Username != want.Username || !sameMillis(stored.LinkedAt, now) {
		t.Fatalf("GetLink = %+v, want %+v linked at %v", stored, want, now)
	}
	if _, err := st.ConsumeLinkToken(ctx(t), "t1", 99, "mallory", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
		t.Fatalf("second ConsumeLinkToken = %v, want ErrTokenInvalid", err)
	}
	wantLink(t, st, "u1", -1001234567890)
}

// unlinkFromChatOnly checks that UnlinkFromChat removes a link only while it points at that chat.
func unlinkFromChatOnly(t *testing.T, st store.Store) {
	link(t, st, "u1", 10)
	link(t, st, "u2", 10)
	link(t, st, "u1", 11) // relinked elsewhere since
	if err := st.UnlinkFromChat(ctx(t), "u1", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UnlinkFromChat(u1, 10) after relink to 11 = %v, want ErrNotFound", err)
	}
	wantLink(t, st, "u1", 11)
	if err := st.UnlinkFromChat(ctx(t), "u2", 10); err != nil {
		t.Fatalf("UnlinkFromChat(u2, 10) = %v", err)
	}
	wantNoLink(t, st, "u2")
	if got := chatUsers(t, st, 10); len(got) != 0 {
		t.Fatalf("chat 10 users = %v, want none", got)
	}
	if err := st.UnlinkFromChat(ctx(t), "u1", 11); err != nil {
		t.Fatalf("UnlinkFromChat(u1, 11) = %v", err)
	}
	wantNoLink(t, st, "u1")
	if err := st.UnlinkFromChat(ctx(t), "nobody", 11); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UnlinkFromChat(nobody) = %v, want ErrNotFound", err)
	}
}

// unlinkChatAll checks that UnlinkChat removes and returns every user linked to the chat.
func unlinkChatAll(t *testing.T, st store.Store) {
	link(t, st, "u1", 10)
	link(t, st, "u2", 10)
	link(t, st, "u3", 20)
	users, err := st.UnlinkChat(ctx(t), 10, events.ReasonStop)
	if err != nil {
		t.Fatalf("UnlinkChat: %v", err)
	}
	if got := sorted(users); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("UnlinkChat(10) = %v, want [u1 u2]", got)
	}
	wantNoLink(t, st, "u1")
	wantNoLink(t, st, "u2")
	wantLink(t, st, "u3", 20)
	again, err := st.UnlinkChat(ctx(t), 10, events.ReasonStop)
	if err != nil || len(again) != 0 {
		t.Fatalf("second UnlinkChat(10) = %v, %v; want empty", again, err)
	}
	if err := st.Unlink(ctx(t), "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Unlink after UnlinkChat = %v, want ErrNotFound", err)
	}
}

// claimConcurrent checks that of concurrent claims of one update exactly one wins.
func claimConcurrent(t *testing.T, st store.Store) {
	const long = time.Hour
	const workers = 20
	c := ctx(t)
	states := make([]store.UpdateState, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { states[i], errs[i] = st.ClaimUpdate(c, 7, long) })
	}
	wg.Wait()
	claimed := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		switch states[i] {
		case store.UpdateClaimed:
			claimed++
		case store.UpdateInProgress:
		default:
			t.Fatalf("worker %d: state %v", i, states[i])
		}
	}
	if claimed != 1 {
		t.Fatalf("%d workers claimed update 7, want 1", claimed)
	}
}
