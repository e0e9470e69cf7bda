package fakebot_test

import (
	"context"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestAddBotServesSeveralTokens: one server, one URL, two tokens, each
// bot with its own identity and chats; an unknown token is 401.
func TestAddBotServesSeveralTokens(t *testing.T) {
	t.Parallel()
	s := fakebot.NewServer()
	defer s.Close()
	b := s.AddBot(fakebot.WithToken("987654:BBsecondBotTokenForTests"), fakebot.WithBotUsername("second_test_bot"), fakebot.WithBotID(987654))
	if b.URL() != s.URL() {
		t.Fatalf("added bot at %s, want the server's %s", b.URL(), s.URL())
	}
	ctx := context.Background()
	for _, tc := range []struct {
		srv  *fakebot.Server
		want string
	}{{s, s.BotUsername()}, {b, "second_test_bot"}} {
		me, err := tc.srv.Client().GetMe(ctx)
		if err != nil || me.Username != tc.want {
			t.Fatalf("getMe = %+v, %v; want %s", me, err, tc.want)
		}
	}
	b.Start(42, "alice", "")
	if _, err := b.Client().SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "to the second"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "x"}); err == nil {
		t.Fatal("the first bot may write to a chat that only started the second")
	}
	if len(b.Messages(42)) != 1 || len(s.Messages(42)) != 0 {
		t.Fatalf("second bot's chat has %d messages, first's %d: want 1 and 0", len(b.Messages(42)), len(s.Messages(42)))
	}
	_, err := telegram.NewClient(s.URL(), "1:unknown").GetMe(ctx)
	if !telegram.IsUnauthorized(err) {
		t.Fatalf("unknown token: %v, want 401", err)
	}
}
