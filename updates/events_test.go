package updates

import (
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// TestBotUnlinkReasons checks the reasons the handler gives the store's
// unlinks, as the event log records them: "stop" for /stop, "blocked" for
// a block (my_chat_member kicked).
func TestBotUnlinkReasons(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	for _, l := range []struct {
		user string
		chat int64
	}{{"u1", 7}, {"u2", 8}} {
		putToken(t, st, l.user, "tok_"+l.user)
		if _, err := st.ConsumeLinkToken(t.Context(), "tok_"+l.user, l.chat, "alice", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := bot.HandleUpdate(t.Context(), textUpdate(1, 7, telegram.ChatTypePrivate, "/stop")); err != nil {
		t.Fatal(err)
	}
	kicked := telegram.Update{UpdateID: 2, MyChatMember: &telegram.ChatMemberUpdated{
		Chat: telegram.Chat{ID: 8, Type: telegram.ChatTypePrivate}, From: telegram.User{ID: 8, FirstName: "a"}, Date: 1,
		OldChatMember: telegram.ChatMember{Status: "member", User: telegram.User{ID: 1, IsBot: true, FirstName: "b"}},
		NewChatMember: telegram.ChatMember{Status: "kicked", User: telegram.User{ID: 1, IsBot: true, FirstName: "b"}},
	}}
	if err := bot.HandleUpdate(t.Context(), kicked); err != nil {
		t.Fatal(err)
	}
	evs, _, err := st.Read(t.Context(), "", events.Filter{Types: []events.Type{events.TypeUserUnlinked}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].UserID != "u1" || evs[0].Reason != events.ReasonStop ||
		evs[1].UserID != "u2" || evs[1].Reason != events.ReasonBlocked {
		t.Fatalf("unlink events = %+v; want u1 stop, u2 blocked", evs)
	}
}
