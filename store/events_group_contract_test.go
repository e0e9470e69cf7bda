package store_test

import (
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/store"
)

// testEventsGroup checks the events of a group link whose username and
// title hold the packing's separators: USER_LINKED, a relink's
// USER_UNLINKED "relinked" and the removal's USER_UNLINKED "removed" all
// carry the person's username, and the link keeps the title.
func testEventsGroup(t *testing.T, b evBackend) {
	ctx := qctx(t)
	group := store.LinkChat{ID: -1001234567890, Kind: store.ChatGroup, Username: "car|ol", Title: "Ops | deploys: prod"}
	for i, tok := range []string{"g1", "g2"} {
		if err := b.st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: "team", ExpiresAt: time.Now().Add(time.Hour), Kind: store.ChatGroup}); err != nil {
			t.Fatal(err)
		}
		chat := group
		chat.ID -= int64(i)
		if _, err := b.st.ConsumeLinkTokenIn(ctx, tok, chat, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := b.st.GetLink(ctx, "team"); err != nil || l.ChatTitle != group.Title || l.Username != group.Username || l.ChatKind != store.ChatGroup {
		t.Fatalf("GetLink = %+v, %v", l, err)
	}
	if users, err := b.st.UnlinkChat(ctx, group.ID-1, events.ReasonRemoved); err != nil || len(users) != 1 {
		t.Fatalf("UnlinkChat = %v, %v", users, err)
	}
	evs := allEvents(t, b.st)
	want := []struct {
		typ    events.Type
		chat   int64
		reason string
	}{
		{events.TypeUserLinked, group.ID, ""},
		{events.TypeUserUnlinked, group.ID, events.ReasonRelinked},
		{events.TypeUserLinked, group.ID - 1, ""},
		{events.TypeUserUnlinked, group.ID - 1, events.ReasonRemoved},
	}
	if len(evs) != len(want) {
		t.Fatalf("events = %+v, want %d", evs, len(want))
	}
	for i, w := range want {
		e := evs[i]
		if e.Type != w.typ || e.ChatID != w.chat || e.Reason != w.reason || e.Username != group.Username || e.UserID != "team" {
			t.Errorf("event %d = %+v, want %v chat %d reason %q username %q", i, e, w.typ, w.chat, w.reason, group.Username)
		}
	}
}

// testEventsGroup403 checks that a 403 from a group (UnlinkFromChat)
// unlinks with reason "removed", from a private chat with "blocked".
func testEventsGroup403(t *testing.T, b evBackend) {
	ctx := qctx(t)
	for _, c := range []struct {
		user string
		chat store.LinkChat
	}{{"team", store.LinkChat{ID: -4001, Kind: store.ChatGroup, Title: "g"}}, {"solo", store.LinkChat{ID: 4001}}} {
		lt := store.LinkToken{Token: "t-" + c.user, UserID: c.user, ExpiresAt: time.Now().Add(time.Hour), Kind: c.chat.Kind}
		if err := b.st.PutLinkToken(ctx, lt); err != nil {
			t.Fatal(err)
		}
		if _, err := b.st.ConsumeLinkTokenIn(ctx, lt.Token, c.chat, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := b.st.UnlinkFromChat(ctx, c.user, c.chat.ID); err != nil {
			t.Fatal(err)
		}
	}
	var reasons []string
	for _, e := range allEvents(t, b.st) {
		if e.Type == events.TypeUserUnlinked {
			reasons = append(reasons, e.UserID+":"+e.Reason)
		}
	}
	if len(reasons) != 2 || reasons[0] != "team:removed" || reasons[1] != "solo:blocked" {
		t.Fatalf("unlink reasons = %v, want [team:removed solo:blocked]", reasons)
	}
}
