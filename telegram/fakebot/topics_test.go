package fakebot_test

import (
	"errors"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

// TestForumTopics checks sends into forum topics: the message carries its
// thread, and an unknown, deleted or closed topic fails with Telegram's
// texts, on sendMessage and sendPhoto alike.
func TestForumTopics(t *testing.T) {
	srv, c := newServer(t)
	ctx := testCtx(t)
	const forum = -1001234567890
	srv.StartGroup(forum, "Ops", 5, "carol", "")
	if _, err := srv.CreateTopic(-4001, "x"); err == nil {
		t.Fatal("CreateTopic in a basic group succeeded")
	}
	deploys, err := srv.CreateTopic(forum, "deploys")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: forum, MessageThreadID: deploys, Text: "v1 out"})
	if err != nil || msg.MessageThreadID != deploys || !msg.IsTopicMessage || !msg.Chat.IsForum {
		t.Fatalf("send into the topic = %+v, %v", msg, err)
	}
	if got := srv.Messages(forum); len(got) != 1 || got[0].MessageThreadID != deploys {
		t.Fatalf("recorded %+v", got)
	}
	if msg, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: forum, Text: "main"}); err != nil || msg.MessageThreadID != 0 {
		t.Fatalf("send to the main chat = %+v, %v", msg, err)
	}
	sendBoth := func(thread int64) []error {
		_, e1 := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: forum, MessageThreadID: thread, Text: "x"})
		_, e2 := c.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: forum, MessageThreadID: thread, Photo: "https://x.test/a.png"})
		return []error{e1, e2}
	}
	wantErr := func(what string, errs []error, desc string) {
		t.Helper()
		for _, err := range errs {
			var te *telegram.Error
			if !errors.As(err, &te) || te.Code != 400 || te.Description != desc || !telegram.IsTopicGone(err) {
				t.Fatalf("%s: %v, want 400 %q", what, err, desc)
			}
		}
	}
	wantErr("unknown topic", sendBoth(999), "Bad Request: message thread not found")
	if err := srv.CloseTopic(forum, deploys, true); err != nil {
		t.Fatal(err)
	}
	wantErr("closed topic", sendBoth(deploys), "Bad Request: TOPIC_CLOSED")
	if err := srv.CloseTopic(forum, deploys, false); err != nil {
		t.Fatal(err)
	}
	for _, err := range sendBoth(deploys) {
		if err != nil {
			t.Fatalf("reopened topic: %v", err)
		}
	}
	if err := srv.DeleteTopic(forum, deploys); err != nil {
		t.Fatal(err)
	}
	wantErr("deleted topic", sendBoth(deploys), "Bad Request: message thread not found")
	srv.StartGroup(-4002, "Basic", 5, "carol", "")
	_, err = c.SendMessage(ctx, telegram.SendMessageParams{ChatID: -4002, MessageThreadID: 3, Text: "x"})
	wantErr("thread in a chat without topics", []error{err}, "Bad Request: message thread not found")
}

// TestRemoveFromGroup checks the bot's removal from a group: the
// my_chat_member update (left or kicked) and the 403 on later sends; adding
// it back works.
func TestRemoveFromGroup(t *testing.T) {
	tests := []struct {
		name   string
		chat   int64
		ban    bool
		status string
		desc   string
	}{
		{"removed from a group", -4001, false, telegram.MemberStatusLeft, "Forbidden: bot is not a member of the group chat"},
		{"removed from a supergroup", -1004001000000, false, telegram.MemberStatusLeft, "Forbidden: bot is not a member of the supergroup chat"},
		{"banned from a group", -4001, true, telegram.MemberStatusKicked, "Forbidden: bot was kicked from the group chat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := newServer(t)
			ctx := testCtx(t)
			srv.StartGroup(tc.chat, "Ops", 5, "carol", "")
			u := srv.RemoveFromGroup(tc.chat, 5, "carol", tc.ban)
			m := u.MyChatMember
			if m == nil || m.Chat.ID != tc.chat || m.NewChatMember.Status != tc.status || m.OldChatMember.Status != telegram.MemberStatusMember ||
				m.NewChatMember.User.Username != srv.BotUsername() || m.From.ID != 5 {
				t.Fatalf("update = %+v", u)
			}
			_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: tc.chat, Text: "x"})
			var te *telegram.Error
			if !errors.As(err, &te) || te.Code != 403 || te.Description != tc.desc || !telegram.IsBlocked(err) {
				t.Fatalf("send after removal: %v, want 403 %q", err, tc.desc)
			}
			srv.StartGroup(tc.chat, "Ops", 5, "carol", "")
			if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: tc.chat, Text: "x"}); err != nil {
				t.Fatalf("send after adding it back: %v", err)
			}
		})
	}
}
