package store_test

// The event log contract, run over both backends: every state change
// appends its events (links, unlinks with their reasons, the end of a
// notification), Read pages with filters and next cursors, trimming makes
// old cursors stale, malformed cursors are refused, Wait wakes on append,
// and UnlinkUser fails the user's queued notifications "unlinked".

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// eventStore is what the suite needs of a backend: the store with its log.
type eventStore interface {
	store.Store
	events.Reader
	events.Appender
	SetEventOptions(store.EventOptions)
}

type evBackend struct {
	st eventStore
	q  delivery.Queue
}

func TestMemoryEventsContract(t *testing.T) {
	runEventsContract(t, func(t *testing.T) evBackend {
		m := store.NewMemory()
		return evBackend{st: m, q: m.Queue()}
	})
}

func TestRedisEventsContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runEventsContract(t, func(t *testing.T) evBackend {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("ev%d", n.Add(1)))
		return evBackend{st: st, q: st.Queue()}
	})
}

func runEventsContract(t *testing.T, newBackend func(t *testing.T) evBackend) {
	tests := []struct {
		name string
		run  func(t *testing.T, b evBackend)
	}{
		{"link and relink", testEventsLink},
		{"unlinks with reasons", testEventsUnlink},
		{"notification ends", testEventsNotifications},
		{"unlink user", testEventsUnlinkUser},
		{"read pages with filters", testEventsReadPaging},
		{"append bounds", testEventsAppendBounds},
		{"cursor too old after trimming", testEventsCursorTooOld},
		{"time retention", testEventsTimeRetention},
		{"bad cursor", testEventsBadCursor},
		{"wait", testEventsWait},
		{"many waiters", testEventsManyWaiters},
		{"group links", testEventsGroup},
		{"403 from a group", testEventsGroup403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newBackend(t)) })
	}
}

// allEvents reads the whole log.
func allEvents(t *testing.T, r events.Reader) []events.Event {
	t.Helper()
	var out []events.Event
	after := ""
	for {
		evs, next, err := r.Read(qctx(t), after, events.Filter{}, events.MaxRead)
		if err != nil {
			t.Fatalf("Read(%q) = %v", after, err)
		}
		out = append(out, evs...)
		if len(evs) == 0 {
			return out
		}
		after = next
	}
}

// evKey is the part of an event a test compares.
type evKey struct {
	Type                   events.Type
	User                   string
	Chat                   int64
	Notification, Reason   string
	State                  int
	Username               string
	HasCursorIDAndTimeSets bool
}

func keyOf(e events.Event) evKey {
	return evKey{e.Type, e.UserID, e.ChatID, e.NotificationID, e.Reason, e.State, e.Username,
		e.Cursor != "" && e.ID != "" && !e.Time.IsZero()}
}

func wantEvents(t *testing.T, r events.Reader, want ...evKey) {
	t.Helper()
	got := allEvents(t, r)
	if len(got) != len(want) {
		t.Fatalf("log = %+v\nwant %+v", got, want)
	}
	for i := range want {
		want[i].HasCursorIDAndTimeSets = true
		if k := keyOf(got[i]); k != want[i] {
			t.Fatalf("event %d = %+v\nwant %+v (log %+v)", i, k, want[i], got)
		}
	}
}

func linkUser(t *testing.T, st store.Store, user string, chat int64, username string) {
	t.Helper()
	tok := "t" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), tok, chat, username, time.Now()); err != nil {
		t.Fatalf("ConsumeLinkToken(%s, %d) = %v", user, chat, err)
	}
}

func testEventsLink(t *testing.T, b evBackend) {
	wantEvents(t, b.st)
	linkUser(t, b.st, "u1", 10, "alice")
	linkUser(t, b.st, "u1", 10, "alice2") // same chat: no unlink
	linkUser(t, b.st, "u1", 11, "bob")    // another chat: relinked first
	if _, err := b.st.ConsumeLinkToken(qctx(t), "unknown", 12, "x", time.Now()); !errors.Is(err, store.ErrTokenInvalid) {
		t.Fatalf("ConsumeLinkToken(unknown) = %v", err)
	}
	wantEvents(t, b.st,
		evKey{Type: events.TypeUserLinked, User: "u1", Chat: 10, Username: "alice"},
		evKey{Type: events.TypeUserLinked, User: "u1", Chat: 10, Username: "alice2"},
		evKey{Type: events.TypeUserUnlinked, User: "u1", Chat: 10, Username: "alice2", Reason: events.ReasonRelinked},
		evKey{Type: events.TypeUserLinked, User: "u1", Chat: 11, Username: "bob"},
	)
}

func testEventsUnlink(t *testing.T, b evBackend) {
	linkUser(t, b.st, "u1", 10, "a")
	linkUser(t, b.st, "u2", 20, "b")
	linkUser(t, b.st, "u3", 30, "c")
	linkUser(t, b.st, "u4", 40, "d")
	before := len(allEvents(t, b.st))
	if users, err := b.st.UnlinkChat(qctx(t), 10, events.ReasonStop); err != nil || len(users) != 1 {
		t.Fatalf("UnlinkChat(10, stop) = %v, %v", users, err)
	}
	if users, err := b.st.UnlinkChat(qctx(t), 20, events.ReasonBlocked); err != nil || len(users) != 1 {
		t.Fatalf("UnlinkChat(20, blocked) = %v, %v", users, err)
	}
	if _, err := b.st.UnlinkChat(qctx(t), 20, "bogus"); err == nil {
		t.Fatal("UnlinkChat with an unknown reason succeeded")
	}
	if err := b.q.UnlinkBlocked(qctx(t), "u3", 31); err != nil { // not that chat: nothing
		t.Fatal(err)
	}
	if err := b.q.UnlinkBlocked(qctx(t), "u3", 30); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Unlink(qctx(t), "u4"); err != nil {
		t.Fatal(err)
	}
	if users, err := b.st.UnlinkChat(qctx(t), 10, events.ReasonStop); err != nil || len(users) != 0 { // nobody left
		t.Fatalf("second UnlinkChat(10) = %v, %v", users, err)
	}
	got := allEvents(t, b.st)[before:]
	want := []evKey{
		{Type: events.TypeUserUnlinked, User: "u1", Chat: 10, Username: "a", Reason: events.ReasonStop},
		{Type: events.TypeUserUnlinked, User: "u2", Chat: 20, Username: "b", Reason: events.ReasonBlocked},
		{Type: events.TypeUserUnlinked, User: "u3", Chat: 30, Username: "c", Reason: events.ReasonBlocked},
		{Type: events.TypeUserUnlinked, User: "u4", Chat: 40, Username: "d", Reason: events.ReasonApp},
	}
	if len(got) != len(want) {
		t.Fatalf("unlink events = %+v, want %+v", got, want)
	}
	for i := range want {
		want[i].HasCursorIDAndTimeSets = true
		if k := keyOf(got[i]); k != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, k, want[i])
		}
	}
}

// settleHead claims chat's head at now and settles it with o.
func settleHead(t *testing.T, q delivery.Queue, now time.Time, o delivery.Outcome) delivery.Claim {
	t.Helper()
	c := mustClaim(t, q, now)
	o.NextAt = now
	if err := q.Settle(qctx(t), c, o, now, qRetention); err != nil {
		t.Fatalf("Settle(%s) = %v", c.Notification.ID, err)
	}
	return c
}

func testEventsNotifications(t *testing.T, b evBackend) {
	t0 := time.Now().Truncate(time.Millisecond)
	mustEnqueue(t, b.q, notif("a", "u1", 42, t0, "one", "two")) // two parts
	mustEnqueue(t, b.q, notif("b", "u1", 42, t0.Add(time.Millisecond)))
	reply := notif("r", "", 42, t0.Add(2*time.Millisecond))
	reply.Reply = true
	mustEnqueue(t, b.q, reply) // a reply goes to the head, behind "a" once its first part is out

	settleHead(t, b.q, t0.Add(time.Second), delivery.Outcome{Kind: delivery.OutcomeRetry, Attempts: 1}) // a: retry
	settleHead(t, b.q, t0.Add(2*time.Second), delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1})
	wantEvents(t, b.st) // no end yet: a retried, then one part of two (or the reply) sent
	for i := 3; i < 10; i++ {
		c, ok, err := b.q.Claim(qctx(t), t0.Add(time.Duration(i)*time.Second), qClaimOpts)
		if err != nil || !ok {
			break
		}
		o := delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: int64(i), NextAt: t0}
		if c.Notification.ID == "b" {
			o = delivery.Outcome{Kind: delivery.OutcomeFail, Reason: delivery.ReasonChatNotFound, LastError: "chat not found"}
		}
		if err := b.q.Settle(qctx(t), c, o, t0.Add(time.Duration(i)*time.Second), qRetention); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, b.st,
		evKey{Type: events.TypeNotificationSent, User: "u1", Chat: 42, Notification: "a", State: 3},
		evKey{Type: events.TypeNotificationFailed, User: "u1", Chat: 42, Notification: "b", State: 4,
			Reason: delivery.ReasonChatNotFound},
	)
	if n := mustGet(t, b.q, "r"); n.State != delivery.StateSent {
		t.Fatalf("reply = %+v; want SENT (and no event)", n)
	}
}

func testEventsUnlinkUser(t *testing.T, b evBackend) {
	t0 := time.Now().Truncate(time.Millisecond)
	linkUser(t, b.st, "u1", 42, "alice")
	linkUser(t, b.st, "u2", 43, "bob")
	for _, id := range []string{"a", "b"} {
		if _, _, err := b.q.EnqueueLinked(qctx(t), notif(id, "u1", 0, t0), qOpts); err != nil {
			t.Fatal(err)
		}
	}
	mustEnqueue(t, b.q, notif("c", "u2", 44, t0)) // u2 is linked to 43, not 44
	before := len(allEvents(t, b.st))
	if chat, was, err := b.st.UnlinkUser(qctx(t), "u1"); err != nil || !was || chat != 42 {
		t.Fatalf("UnlinkUser(u1) = %d, %v, %v; want 42, true", chat, was, err)
	}
	if chat, was, err := b.st.UnlinkUser(qctx(t), "u1"); err != nil || was || chat != 0 {
		t.Fatalf("second UnlinkUser(u1) = %d, %v, %v; want 0, false", chat, was, err)
	}
	if _, err := b.st.GetLink(qctx(t), "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetLink after UnlinkUser = %v", err)
	}
	// The workers fail what the claim finds not linked; the store records
	// "unlinked" for the user the application unlinked, "not_linked" else.
	for i := 1; i <= 3; i++ {
		c := mustClaim(t, b.q, t0.Add(time.Duration(i)*time.Second))
		if c.LinkedChat == c.ChatID {
			t.Fatalf("claim %+v: the user's link still points at the chat", c)
		}
		o := delivery.Outcome{Kind: delivery.OutcomeFail, Reason: delivery.ReasonNotLinked, NextAt: t0}
		if err := b.q.Settle(qctx(t), c, o, t0.Add(time.Duration(i)*time.Second), qRetention); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{"a": store.ReasonUnlinked, "b": store.ReasonUnlinked, "c": delivery.ReasonNotLinked} {
		if n := mustGet(t, b.q, id); n.State != delivery.StateFailed || n.FailureReason != want {
			t.Fatalf("%s = %s %q; want FAILED %q", id, n.State, n.FailureReason, want)
		}
	}
	got := allEvents(t, b.st)[before:]
	if len(got) != 4 || keyOf(got[0]) != (evKey{Type: events.TypeUserUnlinked, User: "u1", Chat: 42, Username: "alice",
		Reason: events.ReasonApp, HasCursorIDAndTimeSets: true}) {
		t.Fatalf("events = %+v; want USER_UNLINKED app, then three failures", got)
	}
	reasons := map[string]string{}
	for _, e := range got[1:] {
		if e.Type != events.TypeNotificationFailed || e.State != 4 {
			t.Fatalf("event %+v; want NOTIFICATION_FAILED", e)
		}
		reasons[e.NotificationID] = e.Reason
	}
	if reasons["a"] != store.ReasonUnlinked || reasons["b"] != store.ReasonUnlinked || reasons["c"] != delivery.ReasonNotLinked {
		t.Fatalf("failure reasons = %v", reasons)
	}
	// Linking again clears the mark: a later not-linked failure is "not_linked".
	linkUser(t, b.st, "u1", 45, "alice")
	mustEnqueue(t, b.q, notif("d", "u1", 46, t0))
	c := mustClaim(t, b.q, t0.Add(5*time.Second))
	if err := b.q.Settle(qctx(t), c, delivery.Outcome{Kind: delivery.OutcomeFail, Reason: delivery.ReasonNotLinked, NextAt: t0},
		t0.Add(5*time.Second), qRetention); err != nil {
		t.Fatal(err)
	}
	if n := mustGet(t, b.q, "d"); n.FailureReason != delivery.ReasonNotLinked {
		t.Fatalf("d after relink = %q; want not_linked", n.FailureReason)
	}
}

func appendN(t *testing.T, a events.Appender, n int, mk func(i int) events.Event) []events.Event {
	t.Helper()
	out := make([]events.Event, 0, n)
	for i := range n {
		e, err := a.Append(qctx(t), mk(i))
		if err != nil {
			t.Fatalf("Append(%d) = %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func testEventsReadPaging(t *testing.T, b evBackend) {
	if evs, next, err := b.st.Read(qctx(t), "", events.Filter{}, 10); err != nil || len(evs) != 0 || next != "" {
		t.Fatalf("Read of an empty log = %v, %q, %v", evs, next, err)
	}
	if evs, next, err := b.st.Read(qctx(t), "5-0", events.Filter{}, 10); err != nil || len(evs) != 0 || next != "5-0" {
		t.Fatalf("Read(5-0) of an empty log = %v, %q, %v; want nothing, the cursor back", evs, next, err)
	}
	at := time.UnixMilli(1_700_000_000_123)
	all := appendN(t, b.st, 25, func(i int) events.Event {
		e := events.Event{Type: events.TypeMessageReceived, UserID: "u" + strconv.Itoa(i%3), ChatID: int64(i), Text: "hi"}
		if i%5 == 0 {
			e.Type, e.Callback, e.Text = events.TypeButtonPressed, "cb"+strconv.Itoa(i), ""
		}
		if i == 7 {
			e.Time = at
		}
		return e
	})
	for i, e := range all {
		if e.ID != "ev-"+e.Cursor || (i > 0 && e.Cursor == all[i-1].Cursor) {
			t.Fatalf("appended %d = %+v", i, e)
		}
	}
	if !all[7].Time.Equal(at) {
		t.Fatalf("appended event's time = %v, want %v", all[7].Time, at)
	}
	// Unfiltered pages of 10: 10, 10, 5, then nothing with the cursor back.
	after := ""
	for page, want := range []int{10, 10, 5, 0} {
		evs, next, err := b.st.Read(qctx(t), after, events.Filter{}, 10)
		if err != nil || len(evs) != want {
			t.Fatalf("page %d after %q = %d events, %v; want %d", page, after, len(evs), err, want)
		}
		for i, e := range evs {
			if w := all[page*10+i]; e.Cursor != w.Cursor || e.Text != w.Text || e.Callback != w.Callback ||
				e.UserID != w.UserID || e.ChatID != w.ChatID || !e.Time.Equal(w.Time) || e.ID != w.ID {
				t.Fatalf("page %d event %d = %+v, want %+v", page, i, e, w)
			}
		}
		wantNext := after
		if want > 0 {
			wantNext = evs[len(evs)-1].Cursor
		}
		if next != wantNext {
			t.Fatalf("page %d next = %q, want %q", page, next, wantNext)
		}
		after = next
	}
	// A filter: user u1's button presses (i = 10: 10%3 = 1, and 25 > i).
	f := events.Filter{Types: []events.Type{events.TypeButtonPressed}, UserID: "u1"}
	evs, next, err := b.st.Read(qctx(t), "", f, 10)
	if err != nil || len(evs) != 1 || evs[0].Callback != "cb10" {
		t.Fatalf("Read(filter) = %+v, %v; want cb10", evs, err)
	}
	if next != all[24].Cursor { // every entry was looked at
		t.Fatalf("Read(filter) next = %q, want the last entry's %q", next, all[24].Cursor)
	}
	// Limit 1 with a filter: next is the matching entry's cursor.
	evs, next, err = b.st.Read(qctx(t), "", events.Filter{Types: []events.Type{events.TypeButtonPressed}}, 1)
	if err != nil || len(evs) != 1 || evs[0].Cursor != all[0].Cursor || next != all[0].Cursor {
		t.Fatalf("Read(presses, 1) = %+v, %q, %v", evs, next, err)
	}
	evs, next, err = b.st.Read(qctx(t), next, events.Filter{Types: []events.Type{events.TypeButtonPressed}}, 1)
	if err != nil || len(evs) != 1 || evs[0].Cursor != all[5].Cursor || next != all[5].Cursor {
		t.Fatalf("Read(presses, 1) again = %+v, %q, %v; want entry 5", evs, next, err)
	}
	// A limit above MaxRead is clamped.
	if evs, _, err := b.st.Read(qctx(t), "", events.Filter{}, events.MaxRead+5); err != nil || len(evs) != 25 {
		t.Fatalf("Read(limit > MaxRead) = %d, %v", len(evs), err)
	}
}

func testEventsAppendBounds(t *testing.T, b evBackend) {
	for name, e := range map[string]events.Event{
		"no type":       {},
		"unknown type":  {Type: 99},
		"text too long": {Type: events.TypeMessageReceived, Text: string(make([]byte, 17<<10))},
	} {
		if _, err := b.st.Append(qctx(t), e); err == nil {
			t.Errorf("Append(%s) succeeded", name)
		}
	}
	if evs := allEvents(t, b.st); len(evs) != 0 {
		t.Fatalf("log after refused appends = %+v", evs)
	}
}

func testEventsCursorTooOld(t *testing.T, b evBackend) {
	// Untrimmed: any cursor, even one before the first entry, is fine.
	first := appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })[0]
	if evs, _, err := b.st.Read(qctx(t), "0-1", events.Filter{}, 10); err != nil || len(evs) != 1 {
		t.Fatalf("Read(0-1) of an untrimmed log = %d, %v", len(evs), err)
	}
	b.st.SetEventOptions(store.EventOptions{MaxLen: 10})
	all := appendN(t, b.st, 300, func(i int) events.Event {
		return events.Event{Type: events.TypeMessageReceived, UserID: "u", Text: strconv.Itoa(i)}
	})
	kept := allEvents(t, b.st)
	if len(kept) < 10 || len(kept) >= 300 {
		t.Fatalf("%d entries kept with MaxLen 10 (approximately 10 wanted)", len(kept))
	}
	if kept[len(kept)-1].Cursor != all[len(all)-1].Cursor {
		t.Fatal("the newest entry was trimmed")
	}
	var old *events.CursorTooOldError
	for _, after := range []string{first.Cursor, "0-1", all[0].Cursor} {
		_, _, err := b.st.Read(qctx(t), after, events.Filter{}, 10)
		if !errors.As(err, &old) || old.Oldest != kept[0].Cursor {
			t.Fatalf("Read(%q) after trimming = %v; want CursorTooOldError{%q}", after, err, kept[0].Cursor)
		}
	}
	// From the oldest retained, from "" and from the newest: fine.
	if evs, _, err := b.st.Read(qctx(t), old.Oldest, events.Filter{}, events.MaxRead); err != nil || len(evs) != len(kept)-1 {
		t.Fatalf("Read(oldest) = %d, %v; want %d", len(evs), err, len(kept)-1)
	}
	if evs, _, err := b.st.Read(qctx(t), "", events.Filter{}, 1); err != nil || len(evs) != 1 || evs[0].Cursor != kept[0].Cursor {
		t.Fatalf("Read(\"\") = %+v, %v", evs, err)
	}
	if evs, next, err := b.st.Read(qctx(t), all[299].Cursor, events.Filter{}, 1); err != nil || len(evs) != 0 || next != all[299].Cursor {
		t.Fatalf("Read(newest) = %+v, %q, %v", evs, next, err)
	}
}

func testEventsTimeRetention(t *testing.T, b evBackend) {
	b.st.SetEventOptions(store.EventOptions{Retention: time.Millisecond})
	first := appendN(t, b.st, 150, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })[0]
	// Entries older than 1 ms go as events are appended (on Redis a whole
	// stream node at a time).
	poll.Eventually(t, 10*time.Second, "the oldest entries trimmed by time", func() bool {
		appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })
		evs, _, err := b.st.Read(qctx(t), "", events.Filter{}, 1)
		return err == nil && len(evs) == 1 && evs[0].Cursor != first.Cursor
	})
	var old *events.CursorTooOldError
	if _, _, err := b.st.Read(qctx(t), first.Cursor, events.Filter{}, 1); !errors.As(err, &old) {
		t.Fatalf("Read(first) after time trimming = %v; want CursorTooOldError", err)
	}
}

func testEventsBadCursor(t *testing.T, b evBackend) {
	appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })
	for _, c := range []string{"abc", "1", "1-", "-1", "1-2-3", " 1-2", "+1-2", "1-0x2", "99999999999999999999-0",
		"1-" + string(make([]byte, 60))} {
		if _, _, err := b.st.Read(qctx(t), c, events.Filter{}, 1); !errors.Is(err, events.ErrBadCursor) {
			t.Errorf("Read(%q) = %v; want ErrBadCursor", c, err)
		}
		if err := b.st.Wait(qctx(t), c, time.Millisecond); !errors.Is(err, events.ErrBadCursor) {
			t.Errorf("Wait(%q) = %v; want ErrBadCursor", c, err)
		}
	}
}

func testEventsWait(t *testing.T, b evBackend) {
	// Nothing in the log: Wait returns after maxWait.
	start := time.Now()
	if err := b.st.Wait(qctx(t), "", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Wait on an empty log returned after %v; want about 50ms", d)
	}
	e := appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })[0]
	// An entry after the cursor: at once.
	for _, after := range []string{"", "0-1"} {
		start = time.Now()
		if err := b.st.Wait(qctx(t), after, 10*time.Second); err != nil || time.Since(start) > 5*time.Second {
			t.Fatalf("Wait(%q) with an entry after it = %v after %v", after, err, time.Since(start))
		}
	}
	// Waiting after the newest entry: an append wakes it.
	done := make(chan error, 1)
	go func() { done <- b.st.Wait(context.Background(), e.Cursor, 20*time.Second) }()
	linkUser(t, b.st, "u1", 10, "a") // a state change's event wakes it too
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not wake on append")
	}
	// A context that ends: its error, at once.
	last := allEvents(t, b.st)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- b.st.Wait(ctx, last[len(last)-1].Cursor, 20*time.Second) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with a canceled context = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return when its context ended")
	}
}

func testEventsManyWaiters(t *testing.T, b evBackend) {
	// More waiters than the Redis client has pooled connections: they
	// share one watch, the store keeps answering, one append wakes them all.
	e := appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })[0]
	const waiters = 64
	done := make(chan error, waiters)
	var started sync.WaitGroup
	started.Add(waiters)
	for range waiters {
		go func() {
			started.Done()
			done <- b.st.Wait(context.Background(), e.Cursor, 25*time.Second)
		}()
	}
	started.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := b.st.GetLink(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetLink while %d wait = %v; want ErrNotFound at once", waiters, err)
	}
	appendN(t, b.st, 1, func(int) events.Event { return events.Event{Type: events.TypeMessageReceived} })
	timeout := time.After(10 * time.Second)
	for range waiters {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			t.Fatal("an append did not wake every waiter")
		}
	}
}
