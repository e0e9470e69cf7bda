package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

const (
	stSent      = notifierv1.NotificationState_NOTIFICATION_STATE_SENT
	stQueued    = notifierv1.NotificationState_NOTIFICATION_STATE_QUEUED
	stCancelled = notifierv1.NotificationState_NOTIFICATION_STATE_CANCELLED
	edApplied   = notifierv1.EditState_EDIT_STATE_APPLIED
	edPending   = notifierv1.EditState_EDIT_STATE_PENDING
	edFailed    = notifierv1.EditState_EDIT_STATE_FAILED
)

// get returns GetNotification(id).
func (h *harness) get(id string) *notifierv1.GetNotificationResponse {
	h.t.Helper()
	r, err := h.client.GetNotification(ctxT(h.t), &notifierv1.GetNotificationRequest{NotificationId: id})
	if err != nil {
		h.t.Fatalf("GetNotification(%s): %v", id, err)
	}
	return r
}

// waitFor polls GetNotification(id) until cond holds and returns it.
func (h *harness) waitFor(id, what string, cond func(*notifierv1.GetNotificationResponse) bool) *notifierv1.GetNotificationResponse {
	h.t.Helper()
	var last *notifierv1.GetNotificationResponse
	eventually(h.t, 15*time.Second, id+": "+what, func() bool {
		last = h.get(id)
		return cond(last)
	})
	return last
}

// edit calls EditNotification and fails the test on an error.
func (h *harness) edit(req *notifierv1.EditNotificationRequest) *notifierv1.EditNotificationResponse {
	h.t.Helper()
	r, err := h.client.EditNotification(ctxT(h.t), req)
	if err != nil {
		h.t.Fatalf("EditNotification(%s): %v", req.GetNotificationId(), err)
	}
	return r
}

// message returns the fake's message id of chat.
func (h *harness) message(chat, id int64) fakebot.SentMessage {
	h.t.Helper()
	return h.sentFor(chat, []int64{id})[0]
}

func urlRow(text, u string) *notifierv1.ButtonRow {
	return &notifierv1.ButtonRow{Buttons: []*notifierv1.Button{{Text: text, Action: &notifierv1.Button_Url{Url: u}}}}
}

// TestEditNotification drives EditNotification over gRPC and REST against
// the fake Bot API on both backends: before sending (no Bot API call),
// while the send is in flight, after sending (in order, the last wins,
// "not modified" is success), the keyboard kept by a text edit, and the
// 429, 5xx and refused paths of the edit calls.
func TestEditNotification(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		const chat = int64(18001)
		h.link("eve", chat)
		testEditBeforeSending(t, h, chat)
		testEditAfterSending(t, h, chat)
		testEditFaults(t, h, chat)
	})
}

func testEditBeforeSending(t *testing.T, h *harness, chat int64) {
	h.fake.SetHang(true)
	inFlight := h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "first"})
	if err := h.fake.WaitForCalls(ctxT(t), "sendMessage", 2); err != nil { // the welcome, then this one
		t.Fatal(err)
	}
	queued := h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "draft"})
	r := h.edit(&notifierv1.EditNotificationRequest{NotificationId: queued.GetNotificationId(), Text: "final for {{who}}",
		Values: map[string]string{"who": "eve"}})
	if r.GetRevision() != 2 || r.GetState() != stQueued {
		t.Fatalf("edit before sending = %v", r)
	}
	if g := h.get(queued.GetNotificationId()); g.GetEditState() != edApplied || g.GetRevision() != 2 {
		t.Fatalf("queued after its edit: %v", g)
	}
	// The one in flight: its edit is applied to the sent message.
	r = h.edit(&notifierv1.EditNotificationRequest{NotificationId: inFlight.GetNotificationId(), Text: "first, edited"})
	if r.GetRevision() != 2 {
		t.Fatalf("edit in flight = %v", r)
	}
	h.fake.SetHang(false)
	q := h.waitFinal(queued.GetNotificationId())
	if m := h.message(chat, q.GetMessageIds()[0]); m.Text != "final for eve" || m.Edits != 0 {
		t.Fatalf("the queued one was sent as %+v", m)
	}
	f := h.waitFor(inFlight.GetNotificationId(), "edit applied", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied
	})
	if m := h.message(chat, f.GetMessageIds()[0]); m.Text != "first, edited" || m.Edits != 1 || f.GetState() != stSent {
		t.Fatalf("in flight: %v, message %+v", f, m)
	}
	if got := h.fake.Calls("editMessageText"); got != 1 {
		t.Fatalf("editMessageText calls = %d, want 1 (the edit before sending makes none)", got)
	}
}

func testEditAfterSending(t *testing.T, h *harness, chat int64) {
	n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "deploy running"}).GetNotificationId())
	id, msg := n.GetNotificationId(), n.GetMessageIds()[0]
	// A keyboard, then text edits in a row: the last wins, the keyboard stays.
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "deploy 50%",
		Buttons: []*notifierv1.ButtonRow{urlRow("Logs", "https://ci.example.com/1")}})
	for _, s := range []string{"deploy 75%", "deploy 90%"} {
		h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: s})
	}
	code, body := h.rest("PATCH", "/v1/notifications/"+id, map[string]any{"text": "*deploy* done",
		"parse_mode": "PARSE_MODE_MARKDOWN_V2"})
	if code != http.StatusOK || body["revision"] != float64(5) {
		t.Fatalf("REST edit = %d %v", code, body)
	}
	g := h.waitFor(id, "the last edit applied", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied && h.message(chat, msg).PlainText == "deploy done"
	})
	m := h.message(chat, msg)
	if g.GetRevision() != 5 || m.ReplyMarkup == nil || m.ReplyMarkup.InlineKeyboard[0][0].Text != "Logs" {
		t.Fatalf("after the edits: %v, message %+v (markup %+v)", g, m, m.ReplyMarkup)
	}
	// The same content again: "message is not modified" counts as applied.
	calls := h.fake.Calls("editMessageText")
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "*deploy* done",
		ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2})
	g = h.waitFor(id, "not modified is applied", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetRevision() == 6 && g.GetEditState() == edApplied
	})
	if got := h.fake.Calls("editMessageText"); got != calls+1 {
		t.Fatalf("editMessageText calls %d, want %d (one answered not modified)", got, calls+1)
	}
	if g.GetEditError() != "" {
		t.Fatalf("not modified: %v", g)
	}
	// Only the keyboard: removed with editMessageReplyMarkup.
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, ClearButtons: true})
	h.waitFor(id, "keyboard removed", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied && g.GetRevision() == 7
	})
	if m := h.message(chat, msg); m.ReplyMarkup != nil || m.PlainText != "deploy done" || h.fake.Calls("editMessageReplyMarkup") != 1 {
		t.Fatalf("after clear_buttons: %+v", m)
	}
}

func testEditFaults(t *testing.T, h *harness, chat int64) {
	n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "v1"}).GetNotificationId())
	id, msg := n.GetNotificationId(), n.GetMessageIds()[0]
	h.fake.FailNext("editMessageText", 2, 502, "Bad Gateway", 0)
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "v2 after 5xx"})
	h.waitFor(id, "applied after two 502s", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied
	})
	if m := h.message(chat, msg); m.Text != "v2 after 5xx" {
		t.Fatalf("after 5xx: %+v", m)
	}
	h.fake.FailNext("editMessageText", 1, 429, "Too Many Requests: retry after 1", 1)
	start := time.Now()
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "v3 after 429"})
	h.waitFor(id, "applied after a 429", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied && g.GetRevision() == 3
	})
	if time.Since(start) < time.Second || h.message(chat, msg).Text != "v3 after 429" {
		t.Fatalf("429: applied after %s, message %+v", time.Since(start), h.message(chat, msg))
	}
	h.fake.FailNext("editMessageText", 1, 400, "Bad Request: message can't be edited", 0)
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "v4 refused"})
	g := h.waitFor(id, "edit failed", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edFailed
	})
	if g.GetState() != stSent || !strings.Contains(g.GetEditError(), "can't be edited") {
		t.Fatalf("refused edit: %v", g)
	}
}

// TestDeleteNotification drives DeleteNotification on both backends:
// before sending (never sent), mid-split (the rest never sent, the sent
// part deleted), after sending (deleted; after 48 h the reason recorded),
// twice, and the 5xx path of deleteMessages.
func TestDeleteNotification(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		const chat = int64(18002)
		h.link("dan", chat)
		testDeleteBeforeSending(t, h, chat)
		testDeleteAfterSending(t, h, chat)
	})
}

func testDeleteBeforeSending(t *testing.T, h *harness, chat int64) {
	h.fake.SetHang(true)
	inFlight := h.notify(&notifierv1.NotifyRequest{UserId: "dan", Text: "in flight"})
	if err := h.fake.WaitForCalls(ctxT(t), "sendMessage", 2); err != nil {
		t.Fatal(err)
	}
	queued := h.notify(&notifierv1.NotifyRequest{UserId: "dan", Text: "never sent"})
	d, err := h.client.DeleteNotification(ctxT(t), &notifierv1.DeleteNotificationRequest{NotificationId: queued.GetNotificationId()})
	if err != nil || d.GetState() != stCancelled {
		t.Fatalf("delete before sending = %v, %v", d, err)
	}
	// A long text whose first part hangs, its second answered 429: deleted
	// mid-split.
	h.fake.SetHang(false)
	h.waitFinal(inFlight.GetNotificationId())
	h.fake.SetHang(true)
	long := strings.Repeat(strings.Repeat("word ", 199)+"end\n\n", 5)
	split := h.notify(&notifierv1.NotifyRequest{UserId: "dan", Text: long})
	if err := h.fake.WaitForCalls(ctxT(t), "sendMessage", 3); err != nil { // welcome, in flight, part 1
		t.Fatal(err)
	}
	h.fake.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 2", 2)
	h.fake.SetHang(false)
	h.waitFor(split.GetNotificationId(), "first part sent", func(g *notifierv1.GetNotificationResponse) bool {
		return len(g.GetMessageIds()) == 1
	})
	code, body := h.rest("DELETE", "/v1/notifications/"+split.GetNotificationId(), nil)
	if code != http.StatusOK || body["state"] != "NOTIFICATION_STATE_CANCELLED" {
		t.Fatalf("REST delete mid-split = %d %v", code, body)
	}
	g := h.waitFor(split.GetNotificationId(), "sent part deleted", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetDeleted()
	})
	if g.GetState() != stCancelled || len(g.GetMessageIds()) != 1 || !h.message(chat, g.GetMessageIds()[0]).Deleted {
		t.Fatalf("mid-split: %v", g)
	}
	if q := h.get(queued.GetNotificationId()); q.GetState() != stCancelled || len(q.GetMessageIds()) != 0 {
		t.Fatalf("the cancelled one: %v", q)
	}
	for _, m := range h.fake.Messages(chat) {
		if m.Text == "never sent" {
			t.Fatalf("a cancelled notification was sent: %+v", m)
		}
	}
	if n := len(h.fake.Messages(chat)); n != 3 { // welcome, in flight, the first part
		t.Fatalf("%d messages in the chat, want 3", n)
	}
	st, err := h.client.GetStatus(ctxT(t), &notifierv1.GetStatusRequest{UserId: "dan"})
	if err != nil || st.GetDelivery().GetQueued() != 0 || st.GetDelivery().GetSent() != 1 || st.GetDelivery().GetFailed() != 0 {
		t.Fatalf("GetStatus = %v, %v: cancelled ones count as neither sent nor failed", st, err)
	}
}

func testDeleteAfterSending(t *testing.T, h *harness, chat int64) {
	n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "dan", Text: "oops"}).GetNotificationId())
	calls := h.fake.Calls("deleteMessages")
	h.fake.FailNext("deleteMessages", 1, 500, "Internal Server Error", 0)
	for range 2 { // twice: harmless
		d, err := h.client.DeleteNotification(ctxT(t), &notifierv1.DeleteNotificationRequest{NotificationId: n.GetNotificationId()})
		if err != nil || d.GetState() != stSent {
			t.Fatalf("delete after sending = %v, %v", d, err)
		}
	}
	h.waitFor(n.GetNotificationId(), "deleted after a 500", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetDeleted()
	})
	if !h.message(chat, n.GetMessageIds()[0]).Deleted || h.fake.Calls("deleteMessages") != calls+2 {
		t.Fatalf("not deleted in the chat, or deleteMessages called %d times", h.fake.Calls("deleteMessages"))
	}
	if _, err := h.client.EditNotification(ctxT(t), &notifierv1.EditNotificationRequest{NotificationId: n.GetNotificationId(),
		Text: "x"}); err == nil {
		t.Fatal("edit of a deleted notification accepted")
	}

	old := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "dan", Text: "old news"}).GetNotificationId())
	later := time.Now().Add(49 * time.Hour)
	h.fake.SetClock(func() time.Time { return later })
	defer h.fake.SetClock(nil)
	if _, err := h.client.DeleteNotification(ctxT(t), &notifierv1.DeleteNotificationRequest{NotificationId: old.GetNotificationId()}); err != nil {
		t.Fatalf("delete after 48 h: %v", err)
	}
	g := h.waitFor(old.GetNotificationId(), "delete refused", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetDeleteError() != ""
	})
	if g.GetDeleted() || g.GetState() != stSent || !strings.Contains(g.GetDeleteError(), "can't be deleted for everyone") {
		t.Fatalf("after 48 h: %v", g)
	}
}

// TestEditDeleteBadInput checks the refusals: NOT_FOUND, FAILED_PRECONDITION
// and INVALID_ARGUMENT naming the field, over gRPC and REST; nothing
// changes.
func TestEditDeleteBadInput(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		const chat = int64(18003)
		h.link("bob", chat)
		sent := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: "sent"}).GetNotificationId()).GetNotificationId()
		long := strings.Repeat(strings.Repeat("word ", 199)+"end\n\n", 5)
		split := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: long}).GetNotificationId()).GetNotificationId()
		h.fake.FailNext("sendMessage", 1, 400, "Bad Request: chat not found", 0)
		failed := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: "fails"}).GetNotificationId()).GetNotificationId()
		button := func(b *notifierv1.Button) []*notifierv1.ButtonRow {
			return []*notifierv1.ButtonRow{{Buttons: []*notifierv1.Button{b}}}
		}
		tests := []struct {
			name  string
			req   *notifierv1.EditNotificationRequest
			code  codes.Code
			field string
		}{
			{"unknown id", &notifierv1.EditNotificationRequest{NotificationId: "nope", Text: "x"}, codes.NotFound, ""},
			{"no id", &notifierv1.EditNotificationRequest{Text: "x"}, codes.InvalidArgument, "notification_id"},
			{"FAILED", &notifierv1.EditNotificationRequest{NotificationId: failed, Text: "x"}, codes.FailedPrecondition, ""},
			{"split and sent", &notifierv1.EditNotificationRequest{NotificationId: split, Text: "x"}, codes.FailedPrecondition, ""},
			{"too long for its one message", &notifierv1.EditNotificationRequest{NotificationId: sent, Text: long}, codes.FailedPrecondition, ""},
			{"changes nothing", &notifierv1.EditNotificationRequest{NotificationId: sent}, codes.InvalidArgument, "text"},
			{"buttons and clear_buttons", &notifierv1.EditNotificationRequest{NotificationId: sent, ClearButtons: true,
				Buttons: []*notifierv1.ButtonRow{urlRow("a", "https://a.test")}}, codes.InvalidArgument, "clear_buttons"},
			{"bad url", &notifierv1.EditNotificationRequest{NotificationId: sent, Buttons: []*notifierv1.ButtonRow{urlRow("a", "ftp://a")}},
				codes.InvalidArgument, "buttons[0].buttons[0].url"},
			{"no action", &notifierv1.EditNotificationRequest{NotificationId: sent, Buttons: button(&notifierv1.Button{Text: "a"})},
				codes.InvalidArgument, "buttons[0].buttons[0]"},
			{"long callback", &notifierv1.EditNotificationRequest{NotificationId: sent, Buttons: button(&notifierv1.Button{Text: "a",
				Action: &notifierv1.Button_Callback{Callback: strings.Repeat("c", 257)}})}, codes.InvalidArgument, "buttons[0].buttons[0].callback"},
			{"placeholder without a value", &notifierv1.EditNotificationRequest{NotificationId: sent, Text: "hi {{who}}"},
				codes.InvalidArgument, "text"},
			{"value never used", &notifierv1.EditNotificationRequest{NotificationId: sent, Text: "hi",
				Values: map[string]string{"who": "x"}}, codes.InvalidArgument, "values[who]"},
		}
		for _, tc := range tests {
			_, err := h.client.EditNotification(ctxT(t), tc.req)
			wantField(t, tc.name, err, tc.code, tc.field)
		}
		if g := h.get(sent); g.GetRevision() != 1 || g.GetEditState() != notifierv1.EditState_EDIT_STATE_UNSPECIFIED {
			t.Fatalf("a refused edit changed the record: %v", g)
		}
		_, err := h.client.DeleteNotification(ctxT(t), &notifierv1.DeleteNotificationRequest{NotificationId: "nope"})
		wantCode(t, err, codes.NotFound)
		for _, c := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"PATCH", "/v1/notifications/nope", map[string]any{"text": "x"}, http.StatusNotFound},
			{"PATCH", "/v1/notifications/" + failed, map[string]any{"text": "x"}, http.StatusBadRequest},
			{"PATCH", "/v1/notifications/" + sent, map[string]any{"buttons": []any{map[string]any{"buttons": []any{
				map[string]any{"text": "a", "url": "https://a.test", "callback": "b"}}}}}, http.StatusBadRequest},
			{"DELETE", "/v1/notifications/nope", nil, http.StatusNotFound},
		} {
			if code, body := h.rest(c.method, c.path, c.body); code != c.want {
				t.Errorf("%s %s = %d %v, want %d", c.method, c.path, code, body, c.want)
			}
		}
		// CANCELLED cannot be edited either.
		h.fake.SetHang(true)
		h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: "hangs"})
		if err := h.fake.WaitForCalls(ctxT(t), "sendMessage", h.fake.Calls("sendMessage")); err != nil {
			t.Fatal(err)
		}
		q := h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: "cancel me"}).GetNotificationId()
		if _, err := h.client.DeleteNotification(ctxT(t), &notifierv1.DeleteNotificationRequest{NotificationId: q}); err != nil {
			t.Fatal(err)
		}
		_, err = h.client.EditNotification(ctxT(t), &notifierv1.EditNotificationRequest{NotificationId: q, Text: "x"})
		wantField(t, "CANCELLED", err, codes.FailedPrecondition, "")
		h.fake.SetHang(false)
	})
}

// wantField fails unless err has code and, when field is not "", one
// BadRequest field violation naming field.
func wantField(t *testing.T, name string, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Errorf("%s: code %s (%v), want %s", name, st.Code(), err, code)
		return
	}
	if field == "" {
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 &&
			br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Errorf("%s: %v does not name the field %s", name, err, field)
}

// TestSandboxShowsEdits follows the README's walkthrough: an edit and a
// delete show in GET /sandbox/chats/{id}/messages.
func TestSandboxShowsEdits(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	const chat = int64(18101)
	h.link("sally", chat)
	n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: "sally", Text: "Deploy of {{app}} running",
		Values: map[string]string{"app": "api"}}).GetNotificationId())
	id := n.GetNotificationId()
	h.edit(&notifierv1.EditNotificationRequest{NotificationId: id, Text: "Deploy of *{{app}}* done",
		ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, Values: map[string]string{"app": "api"},
		Buttons: []*notifierv1.ButtonRow{urlRow("Logs", "https://ci.example.com/42")}})
	h.waitFor(id, "the first edit applied", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetEditState() == edApplied // else the two coalesce into one editMessageText
	})
	if code, body := h.rest("PATCH", "/v1/notifications/"+id, map[string]any{"clear_buttons": true}); code != http.StatusOK {
		t.Fatalf("REST clear_buttons = %d %v", code, body)
	}
	h.waitFor(id, "both edits applied", func(g *notifierv1.GetNotificationResponse) bool {
		return g.GetRevision() == 3 && g.GetEditState() == edApplied
	})
	last := func() map[string]any {
		_, body := h.rest("GET", fmt.Sprintf("/sandbox/chats/%d/messages", chat), nil)
		msgs, _ := body["messages"].([]any)
		m, _ := msgs[len(msgs)-1].(map[string]any)
		return m
	}
	if m := last(); m["edits"] != float64(2) || m["edited_at"] == nil || m["deleted"] != nil {
		t.Fatalf("sandbox shows %v after two edits", m)
	}
	if code, _ := h.rest("DELETE", "/v1/notifications/"+id, nil); code != http.StatusOK {
		t.Fatalf("REST delete = %d", code)
	}
	h.waitFor(id, "deleted", func(g *notifierv1.GetNotificationResponse) bool { return g.GetDeleted() })
	if m := last(); m["deleted"] != true {
		t.Fatalf("sandbox shows %v after the delete", m)
	}
}
