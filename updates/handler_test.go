package updates

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// botBackends are the stores the bot's tests run on: the in-memory store
// and a real redis-server.
func botBackends() []struct {
	name string
	open func(t *testing.T) store.Store
} {
	return []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memory", func(t *testing.T) store.Store {
			st := store.NewMemory()
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"redis", func(t *testing.T) store.Store {
			srv := redistest.Start(t)
			st := store.NewRedis(srv.Client(t), "bot")
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
	}
}

// waitFor polls cond until it holds or timeout passes, then fails t.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Eventually(t, timeout, what, cond)
}

func putToken(t *testing.T, st store.Store, user, tok string) {
	t.Helper()
	putKindToken(t, st, user, tok, store.ChatPrivate)
}

// putKindToken stores a link token of kind for user.
func putKindToken(t *testing.T, st store.Store, user, tok string, kind store.ChatKind) {
	t.Helper()
	lt := store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour), Kind: kind}
	if err := st.PutLinkToken(t.Context(), lt); err != nil {
		t.Fatal(err)
	}
}

func linkedTo(t *testing.T, st store.Store, user string) (int64, bool) {
	t.Helper()
	l, err := st.GetLink(t.Context(), user)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return l.ChatID, true
}

func textUpdate(id, chat int64, chatType, text string) telegram.Update {
	return telegram.Update{UpdateID: id, Message: &telegram.Message{
		MessageID: 1, Date: 1, Chat: telegram.Chat{ID: chat, Type: chatType},
		From: &telegram.User{ID: 5, FirstName: "U", Username: "alice"}, Text: text,
	}}
}

// TestBotCommandsAddressing checks which commands the bot obeys: bare ones
// and those addressed to its own username, whatever the case, with the
// argument after a space or a newline; never one addressed to another bot.
func TestBotCommandsAddressing(t *testing.T) {
	t.Parallel()
	const (
		chat  = int64(-4001) // a group with the bot and others
		token = "tok_ABC-123"
	)
	tests := []struct {
		name       string
		linked     bool // the user is linked to chat before the update
		text       string
		wantLinked bool
	}{
		{"bare stop unlinks", true, "/stop", false},
		{"stop to us unlinks", true, "/stop@OurBot", false},
		{"stop to us in other case unlinks", true, "/STOP@ourbot", false},
		{"stop to another bot is ignored", true, "/stop@SomeOtherBot", true},
		{"stop to a bot whose name starts like ours is ignored", true, "/stop@OurBotX", true},
		{"bare start links", false, "/start " + token, true},
		{"start with the token on the next line links", false, "/start\n" + token, true},
		{"upper-case start to us links", false, "/START@OurBot " + token, true},
		{"start to us with the token on the next line links", false, "/start@OurBot\n" + token, true},
		{"start to another bot is ignored", false, "/start@SomeOtherBot " + token, false},
		{"not a command", false, "start " + token, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
			id := &telegram.BotIdentity{}
			id.Set("OurBot")
			bot.SetIdentity(id)
			if tc.linked {
				putKindToken(t, st, "u1", "old_token", store.ChatGroup)
				group := store.LinkChat{ID: chat, Kind: store.ChatGroup, Username: "alice"}
				if _, err := st.ConsumeLinkTokenIn(t.Context(), "old_token", group, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			putKindToken(t, st, "u1", token, store.ChatGroup)
			if err := bot.HandleUpdate(t.Context(), textUpdate(1, chat, telegram.ChatTypeGroup, tc.text)); err != nil {
				t.Fatalf("HandleUpdate(%q): %v", tc.text, err)
			}
			got, linked := linkedTo(t, st, "u1")
			if linked != tc.wantLinked || (linked && got != chat) {
				t.Fatalf("after %q: linked=%v chat=%d, want linked=%v chat=%d", tc.text, linked, got, tc.wantLinked, chat)
			}
		})
	}
}

// TestBotAddressedCommandBeforeGetMe checks that a command addressed to a
// bot is neither obeyed nor dropped while the bot's own username is not
// known yet: the update fails, to be delivered again; bare commands work.
func TestBotAddressedCommandBeforeGetMe(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	id := &telegram.BotIdentity{}
	bot.SetIdentity(id)
	putToken(t, st, "u1", "tok1")
	err := bot.HandleUpdate(t.Context(), textUpdate(1, 10, telegram.ChatTypePrivate, "/start@SomeBot tok1"))
	if !errors.Is(err, ErrBotUnknown) {
		t.Fatalf("addressed command before getMe: %v, want ErrBotUnknown", err)
	}
	if _, linked := linkedTo(t, st, "u1"); linked {
		t.Fatal("linked by a command whose addressee is unknown")
	}
	id.Set("SomeBot")
	if err := bot.HandleUpdate(t.Context(), textUpdate(1, 10, telegram.ChatTypePrivate, "/start@SomeBot tok1")); err != nil {
		t.Fatalf("redelivery once the username is known: %v", err)
	}
	if _, linked := linkedTo(t, st, "u1"); !linked {
		t.Fatal("the redelivered command was not obeyed")
	}
}

// errKilled stands for the process dying (kill -9) right after it claimed
// an update.
var errKilled = errors.New("process killed")

// crashAfterClaim is a store whose first claim of update id is taken and
// then the process "dies": the claim stays, never completed or released.
type crashAfterClaim struct {
	store.Store
	id      int64
	crashed atomic.Bool
}

func (c *crashAfterClaim) ClaimUpdate(ctx context.Context, id int64, ttl time.Duration) (store.UpdateState, error) {
	s, err := c.Store.ClaimUpdate(ctx, id, ttl)
	if err == nil && id == c.id && c.crashed.CompareAndSwap(false, true) {
		return 0, errKilled
	}
	return s, err
}

// TestBotCrashMidUpdateDoesNotBlockLaterUpdates is the regression test of
// finding 8: a worker claimed an update and died; the poller fetches that
// update again, finds it "in progress", and every later update waits
// behind it. The claim must lapse within seconds (it used to last two
// minutes), so both updates are processed soon.
func TestBotCrashMidUpdateDoesNotBlockLaterUpdates(t *testing.T) {
	t.Parallel()
	for _, be := range botBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			st := be.open(t)
			fake := fakebot.NewServer()
			t.Cleanup(fake.Close)
			client := telegram.NewClient(fake.URL(), fake.Token())
			putToken(t, st, "u1", "tok1")
			putToken(t, st, "u2", "tok2")
			first := fake.Start(101, "alice", "tok1")
			fake.Start(102, "bob", "tok2")
			crashing := &crashAfterClaim{Store: st, id: first.UpdateID}
			bot := New(crashing, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
			bot.SetUpdateDeadline(500 * time.Millisecond)

			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			p := telegram.NewPoller(client, st, bot, zaptest.NewLogger(t),
				telegram.WithPollTimeout(time.Second), telegram.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
			start := time.Now()
			go func() { done <- p.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				<-done
			})
			waitFor(t, 5*time.Second, "both users linked after the crash", func() bool {
				_, l1 := linkedTo(t, st, "u1")
				_, l2 := linkedTo(t, st, "u2")
				return l1 && l2
			})
			if !crashing.crashed.Load() {
				t.Fatal("the crash was not simulated")
			}
			t.Logf("both updates processed %v after the crash", time.Since(start).Round(time.Millisecond))
		})
	}
}

// slowConsume is a store whose first ConsumeLinkTokenIn hangs until its
// context ends, like a handler stuck on a slow store.
type slowConsume struct {
	store.Store
	hung atomic.Bool
}

func (s *slowConsume) ConsumeLinkTokenIn(ctx context.Context, token string, chat store.LinkChat, now time.Time) (store.Link, error) {
	if s.hung.CompareAndSwap(false, true) {
		<-ctx.Done()
		return store.Link{}, fmt.Errorf("consume: %w", ctx.Err())
	}
	return s.Store.ConsumeLinkTokenIn(ctx, token, chat, now)
}

// TestBotSlowUpdateEndsWithinItsClaim checks that the processing of an
// update is bounded by the deadline its claim covers: a stuck handler gives
// up (and releases its claim) before the claim lapses, so a second worker
// never processes the same update while the first still runs, and the
// redelivery is processed at once.
func TestBotSlowUpdateEndsWithinItsClaim(t *testing.T) {
	t.Parallel()
	for _, be := range botBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			st := be.open(t)
			slow := &slowConsume{Store: st}
			bot := New(slow, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
			const deadline = 300 * time.Millisecond
			bot.SetUpdateDeadline(deadline)
			putToken(t, st, "u1", "tok1")
			u := textUpdate(7, 10, telegram.ChatTypePrivate, "/start tok1")

			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- bot.HandleUpdate(t.Context(), u) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a handler cut by its deadline reported success")
				}
				if took := time.Since(start); took >= bot.claimTTL() {
					t.Fatalf("the handler took %v, past its claim's %v", took, bot.claimTTL())
				}
			case <-time.After(5 * time.Second): // well past the claim's deadline + margin
				t.Fatalf("the handler outlived its claim (%v)", bot.claimTTL())
			}
			if err := bot.HandleUpdate(t.Context(), u); err != nil {
				t.Fatalf("redelivery after the cut: %v", err)
			}
			if _, linked := linkedTo(t, st, "u1"); !linked {
				t.Fatal("the redelivered update was not processed")
			}
		})
	}
}

// failingReplier refuses every reply, as a queue that is down does.
type failingReplier struct{ calls atomic.Int64 }

func (f *failingReplier) EnqueueReply(context.Context, delivery.Reply) (bool, error) {
	f.calls.Add(1)
	return false, fmt.Errorf("queue down: %w", store.ErrUnavailable)
}

// TestBotLinkStandsWhenTheReplyCannotBeQueued: the welcome is queued after
// the link is saved; when the queue refuses it, the update still succeeds
// (a redelivery would find the token used and answer "expired") and the
// user stays linked.
func TestBotLinkStandsWhenTheReplyCannotBeQueued(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	r := &failingReplier{}
	bot := New(st, r, "", metrics.New(), zaptest.NewLogger(t))
	putToken(t, st, "u1", "tok1")
	if err := bot.HandleUpdate(t.Context(), textUpdate(1, 10, telegram.ChatTypePrivate, "/start tok1")); err != nil {
		t.Fatalf("HandleUpdate = %v; want the link applied despite the reply", err)
	}
	if chat, ok := linkedTo(t, st, "u1"); !ok || chat != 10 {
		t.Fatalf("u1 linked to %d (%v); want chat 10", chat, ok)
	}
	if r.calls.Load() != 1 {
		t.Fatalf("%d replies tried, want the welcome", r.calls.Load())
	}
}
