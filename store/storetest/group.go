package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
)

// group is a group chat the suite links users to.
var group = store.LinkChat{ID: -100123, Kind: store.ChatGroup, Username: "alice", Title: "Ops | deploys"}

// testGroupLink covers group link tokens: the kind is kept with the token,
// a token used in a chat of the other kind links nothing and stays, and a
// group link keeps the chat's kind and title (through a migration too).
func testGroupLink(t *testing.T, newStore func(t *testing.T) store.Store) {
	runCases(t, newStore, []storeCase{
		{"group token links a group with its title", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "gt", UserID: "team", ExpiresAt: time.Now().Add(time.Hour), Kind: store.ChatGroup})
			if got, err := st.UserLinkToken(ctx(t), "team"); err != nil || got.Kind != store.ChatGroup {
				t.Fatalf("UserLinkToken = %+v, %v; want a group token", got, err)
			}
			l, err := st.ConsumeLinkTokenIn(ctx(t), "gt", group, time.Now())
			if err != nil || l.ChatKind != store.ChatGroup || l.ChatTitle != group.Title || l.ChatID != group.ID {
				t.Fatalf("ConsumeLinkTokenIn = %+v, %v; want group link", l, err)
			}
			got, err := st.GetLink(ctx(t), "team")
			if err != nil || got.ChatKind != store.ChatGroup || got.ChatTitle != group.Title || got.Username != "alice" {
				t.Fatalf("GetLink = %+v, %v; want group %q by alice", got, err, group.Title)
			}
			if _, err := st.ConsumeLinkTokenIn(ctx(t), "gt", group, time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
				t.Fatalf("second use = %v, want ErrTokenInvalid", err)
			}
		}},
		{"private token in a group links nothing and stays", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "pt", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
			if _, err := st.ConsumeLinkTokenIn(ctx(t), "pt", group, time.Now()); !errors.Is(err, store.ErrTokenWrongKind) {
				t.Fatalf("private token in a group = %v, want ErrTokenWrongKind", err)
			}
			wantNoLink(t, st, "u1")
			if got, err := st.UserLinkToken(ctx(t), "u1"); err != nil || got.Token != "pt" || got.Kind != store.ChatPrivate {
				t.Fatalf("UserLinkToken = %+v, %v; want pt still live", got, err)
			}
			l := mustConsume(t, st, "pt", 42, "bob")
			if l.ChatKind != store.ChatPrivate || l.ChatTitle != "" {
				t.Fatalf("private link = %+v", l)
			}
		}},
		{"group token in a private chat links nothing and stays", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "gt", UserID: "team", ExpiresAt: time.Now().Add(time.Hour), Kind: store.ChatGroup})
			private := store.LinkChat{ID: 42, Username: "bob", Title: "ignored"}
			if _, err := st.ConsumeLinkTokenIn(ctx(t), "gt", private, time.Now()); !errors.Is(err, store.ErrTokenWrongKind) {
				t.Fatalf("group token in a private chat = %v, want ErrTokenWrongKind", err)
			}
			if _, err := st.ConsumeLinkToken(ctx(t), "gt", 42, "bob", time.Now()); !errors.Is(err, store.ErrTokenWrongKind) {
				t.Fatalf("ConsumeLinkToken(group token) = %v, want ErrTokenWrongKind", err)
			}
			wantNoLink(t, st, "team")
			if _, err := st.ConsumeLinkTokenIn(ctx(t), "gt", group, time.Now()); err != nil {
				t.Fatalf("group token in its group: %v", err)
			}
			wantLink(t, st, "team", group.ID)
		}},
		{"migration keeps kind and title", func(t *testing.T, st store.Store) {
			mustPut(t, st, store.LinkToken{Token: "gt", UserID: "team", ExpiresAt: time.Now().Add(time.Hour), Kind: store.ChatGroup})
			small := group
			small.ID = -123
			if _, err := st.ConsumeLinkTokenIn(ctx(t), "gt", small, time.Now()); err != nil {
				t.Fatalf("ConsumeLinkTokenIn: %v", err)
			}
			moved, err := st.UpdateChatID(ctx(t), -123, -100123)
			if err != nil || !slices.Equal(moved, []string{"team"}) {
				t.Fatalf("UpdateChatID = %v, %v; want [team]", moved, err)
			}
			got, err := st.GetLink(ctx(t), "team")
			if err != nil || got.ChatID != -100123 || got.ChatKind != store.ChatGroup || got.ChatTitle != group.Title || got.Username != "alice" {
				t.Fatalf("GetLink after migration = %+v, %v", got, err)
			}
			if users := chatUsers(t, st, -100123); !slices.Equal(users, []string{"team"}) {
				t.Fatalf("new chat users = %v, want [team]", users)
			}
		}},
	})
}
