package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// chatUserStore is a store that tells the users of a chat.
type chatUserStore interface {
	store.Store
	ChatUsers(ctx context.Context, chatID int64) ([]string, error)
}

func TestChatUsers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	backends := map[string]func(t *testing.T) chatUserStore{
		"memory": func(*testing.T) chatUserStore { return store.NewMemory() },
		"redis": func(t *testing.T) chatUserStore {
			st := store.NewRedis(srv.Client(t), "chatusers")
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
	for name, newStore := range backends {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			ctx := context.Background()
			linkUser := func(user, tok string, chat int64) {
				t.Helper()
				if err := st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.ConsumeLinkToken(ctx, tok, chat, "", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			want := func(chat int64, users ...string) {
				t.Helper()
				got, err := st.ChatUsers(ctx, chat)
				if err != nil {
					t.Fatal(err)
				}
				if users == nil {
					users = []string{}
				}
				if got == nil || !slices.Equal(got, users) {
					t.Fatalf("ChatUsers(%d) = %#v, want %#v", chat, got, users)
				}
			}
			want(7)
			linkUser("bob", "tok-bob-000000000000000", 7)
			want(7, "bob")
			linkUser("alice", "tok-alice-0000000000000", 7)
			want(7, "alice", "bob")
			if err := st.Unlink(ctx, "bob"); err != nil {
				t.Fatal(err)
			}
			want(7, "alice")
			want(8)
		})
	}
}
