package updates

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// recordingReplier keeps the replies queued.
type recordingReplier struct {
	mu      sync.Mutex
	replies []delivery.Reply
}

func (r *recordingReplier) EnqueueReply(_ context.Context, rep delivery.Reply) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, rep)
	return true, nil
}

func (r *recordingReplier) all() []delivery.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery.Reply(nil), r.replies...)
}

// groupStart is "/start@OurBot <token>" in group chat of type typ.
func groupStart(id, chat int64, typ, token string) telegram.Update {
	u := textUpdate(id, chat, typ, "/start@OurBot "+token)
	u.Message.Chat.Title = "Ops"
	return u
}

// TestBotGroupLink checks the group link flow on both backends: a group
// token used in a group (or supergroup) links the group with its title and
// the welcome goes to the group; a token of the other kind links nothing,
// stays valid and the bot says why in that chat.
func TestBotGroupLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		kind      store.ChatKind
		update    telegram.Update
		wantChat  int64 // 0: nothing linked
		wantReply string
	}{
		{"group token in a group", store.ChatGroup, groupStart(1, -501, telegram.ChatTypeGroup, "tokG"), -501, DefaultWelcomeMessage},
		{"group token in a supergroup", store.ChatGroup, groupStart(1, -100501, telegram.ChatTypeSupergroup, "tokG"), -100501, DefaultWelcomeMessage},
		{"private token in a group", store.ChatPrivate, groupStart(1, -501, telegram.ChatTypeGroup, "tokG"), 0, replyPrivateTokenInGroup},
		{"group token in a private chat", store.ChatGroup, textUpdate(1, 77, telegram.ChatTypePrivate, "/start tokG"), 0, replyGroupTokenInPrivate},
		{"private token in a private chat", store.ChatPrivate, textUpdate(1, 77, telegram.ChatTypePrivate, "/start tokG"), 77, DefaultWelcomeMessage},
		{"bare start in a group", store.ChatGroup, groupStart(1, -501, telegram.ChatTypeGroup, ""), 0, replyNoTokenGroup},
		{"bare start in a private chat", store.ChatGroup, textUpdate(1, 77, telegram.ChatTypePrivate, "/start"), 0, replyNoToken},
	}
	for _, be := range botBackends() {
		for _, tc := range tests {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				st := be.open(t)
				rep := &recordingReplier{}
				bot := New(st, rep, "", metrics.New(), zaptest.NewLogger(t))
				id := &telegram.BotIdentity{}
				id.Set("OurBot")
				bot.SetIdentity(id)
				putKindToken(t, st, "team", "tokG", tc.kind)
				if err := bot.HandleUpdate(t.Context(), tc.update); err != nil {
					t.Fatalf("HandleUpdate: %v", err)
				}
				chat := tc.update.Message.Chat
				replies := rep.all()
				if len(replies) != 1 || replies[0].ChatID != chat.ID || replies[0].Text != tc.wantReply {
					t.Fatalf("replies = %+v; want %q in chat %d", replies, tc.wantReply, chat.ID)
				}
				got, linked := linkedTo(t, st, "team")
				if tc.wantChat == 0 {
					if linked {
						t.Fatalf("linked to %d, want nothing linked", got)
					}
					if lt, err := st.UserLinkToken(t.Context(), "team"); err != nil || lt.Token != "tokG" {
						t.Fatalf("token after a wrong-kind use = %+v, %v; want it kept", lt, err)
					}
					return
				}
				link, err := st.GetLink(t.Context(), "team")
				if err != nil || link.ChatID != tc.wantChat || link.ChatKind != tc.kind || link.ChatTitle != chat.Title {
					t.Fatalf("link = %+v, %v; want chat %d kind %v title %q", link, err, tc.wantChat, tc.kind, chat.Title)
				}
			})
		}
	}
}

// TestBotRemovedFromGroup checks that my_chat_member "left" or "kicked" in
// a group unlinks it with reason "removed", and in a private chat with
// reason "blocked".
func TestBotRemovedFromGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chat   telegram.Chat
		status string
		want   string
	}{
		{"left a group", telegram.Chat{ID: -9, Type: telegram.ChatTypeGroup, Title: "g"}, telegram.MemberStatusLeft, events.ReasonRemoved},
		{"kicked from a supergroup", telegram.Chat{ID: -1009, Type: telegram.ChatTypeSupergroup, Title: "g"}, telegram.MemberStatusKicked, events.ReasonRemoved},
		{"blocked in a private chat", telegram.Chat{ID: 9, Type: telegram.ChatTypePrivate}, telegram.MemberStatusKicked, events.ReasonBlocked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
			kind := store.ChatPrivate
			if tc.chat.IsGroup() {
				kind = store.ChatGroup
			}
			putKindToken(t, st, "team", "tok", kind)
			if _, err := st.ConsumeLinkTokenIn(t.Context(), "tok", store.LinkChat{ID: tc.chat.ID, Kind: kind}, time.Now()); err != nil {
				t.Fatal(err)
			}
			me := telegram.User{ID: 1, IsBot: true, FirstName: "b", Username: "OurBot"}
			u := telegram.Update{UpdateID: 2, MyChatMember: &telegram.ChatMemberUpdated{
				Chat: tc.chat, From: telegram.User{ID: 5, FirstName: "a"}, Date: 1,
				OldChatMember: telegram.ChatMember{Status: telegram.MemberStatusMember, User: me},
				NewChatMember: telegram.ChatMember{Status: tc.status, User: me},
			}}
			if err := bot.HandleUpdate(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			if _, linked := linkedTo(t, st, "team"); linked {
				t.Fatal("still linked")
			}
			evs, _, err := st.Read(t.Context(), "", events.Filter{Types: []events.Type{events.TypeUserUnlinked}}, 10)
			if err != nil || len(evs) != 1 || evs[0].Reason != tc.want || evs[0].ChatID != tc.chat.ID {
				t.Fatalf("unlink events = %+v, %v; want one with reason %q", evs, err, tc.want)
			}
		})
	}
}
