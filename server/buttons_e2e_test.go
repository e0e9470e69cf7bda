package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/updates"
)

// TestButtons drives NotifyRequest.buttons end to end over gRPC and REST
// against the fake Bot API, on both backends: the keyboard on the last
// message (of a split text, of a media message or after it), a press
// answered within a second with the notification's toast and recorded
// once however often the update comes, a press from another chat ignored,
// a press of an unknown notification answered, BUTTON_PRESSED in the
// event log, and refused input.
func TestButtons(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		const chat = int64(18001)
		h.link("bo", chat)
		testButtonsKeyboard(t, h, chat)
		testButtonsPress(t, h, chat)
		testButtonsREST(t, h, chat)
		testButtonsRefused(t, h, chat)
	})
}

func cbButton(text, cb string) *notifierv1.Button {
	return &notifierv1.Button{Text: text, Action: &notifierv1.Button_Callback{Callback: cb}}
}

func urlButton(text, u string) *notifierv1.Button {
	return &notifierv1.Button{Text: text, Action: &notifierv1.Button_Url{Url: u}}
}

func row(bs ...*notifierv1.Button) *notifierv1.ButtonRow { return &notifierv1.ButtonRow{Buttons: bs} }

// twoRows is the keyboard of the tests: approve/snooze, then a link and a
// copy button.
func twoRows() []*notifierv1.ButtonRow {
	return []*notifierv1.ButtonRow{
		row(cbButton("Approve", "approve:order-7"), cbButton("Snooze", "snooze:1h")),
		row(urlButton("Open", "https://example.com/o/7"),
			&notifierv1.Button{Text: "Copy id", Action: &notifierv1.Button_CopyText{CopyText: "order-7"}}),
	}
}

// checkKeyboard checks that m carries twoRows for notification id.
func checkKeyboard(t *testing.T, m fakebot.SentMessage, id string) {
	t.Helper()
	kb := m.ReplyMarkup
	if kb == nil || len(kb.InlineKeyboard) != 2 || len(kb.InlineKeyboard[0]) != 2 || len(kb.InlineKeyboard[1]) != 2 {
		t.Fatalf("message %d keyboard = %+v, want two rows of two", m.MessageID, kb)
	}
	r0, r1 := kb.InlineKeyboard[0], kb.InlineKeyboard[1]
	if r0[0].Text != "Approve" || r0[0].CallbackData != delivery.CallbackData(id, 0, 0) ||
		r0[1].Text != "Snooze" || r0[1].CallbackData != delivery.CallbackData(id, 0, 1) ||
		r1[0].URL != "https://example.com/o/7" || r1[0].CallbackData != "" ||
		r1[1].CopyText == nil || r1[1].CopyText.Text != "order-7" {
		t.Fatalf("keyboard = %+v", kb)
	}
	if len(r0[0].CallbackData) > 64 {
		t.Fatalf("callback_data of %d bytes", len(r0[0].CallbackData))
	}
}

func testButtonsKeyboard(t *testing.T, h *harness, chat int64) {
	sent := notifierv1.NotificationState_NOTIFICATION_STATE_SENT
	// A split text: the keyboard on the last part only.
	long := strings.Repeat(strings.Repeat("word ", 199)+"end\n\n", 5)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "bo", Text: long, Buttons: twoRows()})
	n := h.waitFinal(r.GetNotificationId())
	msgs := h.sentFor(chat, n.GetMessageIds())
	if n.GetState() != sent || len(msgs) < 2 {
		t.Fatalf("split: %v", n)
	}
	for _, m := range msgs[:len(msgs)-1] {
		if m.ReplyMarkup != nil {
			t.Fatalf("part %d has a keyboard", m.MessageID)
		}
	}
	checkKeyboard(t, msgs[len(msgs)-1], n.GetNotificationId())

	// A photo with its caption: the keyboard on the photo.
	r = h.notify(&notifierv1.NotifyRequest{UserId: "bo", Text: "chart", Media: photoURL("https://example.com/c.png"), Buttons: twoRows()})
	n = h.waitFinal(r.GetNotificationId())
	msgs = h.sentFor(chat, n.GetMessageIds())
	if len(msgs) != 1 || msgs[0].Media == nil {
		t.Fatalf("photo: %+v", msgs)
	}
	checkKeyboard(t, msgs[0], n.GetNotificationId())

	// A photo followed by its long text: the keyboard on the last text.
	r = h.notify(&notifierv1.NotifyRequest{UserId: "bo", Text: long, Media: photoURL("https://example.com/d.png"), Buttons: twoRows()})
	n = h.waitFinal(r.GetNotificationId())
	msgs = h.sentFor(chat, n.GetMessageIds())
	if len(msgs) < 3 || msgs[0].Media == nil || msgs[0].ReplyMarkup != nil {
		t.Fatalf("photo then text: %+v", msgs[0])
	}
	checkKeyboard(t, msgs[len(msgs)-1], n.GetNotificationId())
}

// waitAnswered waits for the fake to see query id answered and checks it
// came within a second of the press, with text.
func waitAnswered(t *testing.T, h *harness, id, text string) {
	t.Helper()
	q, err := h.fake.WaitForAnswer(ctxT(t), id)
	if err != nil {
		t.Fatalf("query %s not answered: %v", id, err)
	}
	if d := q.AnsweredAt.Sub(q.PressedAt); d > time.Second {
		t.Fatalf("query %s answered after %v, want within 1 s", id, d)
	}
	if q.AnswerText != text {
		t.Fatalf("query %s answered %q, want %q", id, q.AnswerText, text)
	}
}

func (h *harness) presses(id string) []*notifierv1.ButtonPress {
	h.t.Helper()
	n, err := h.client.GetNotification(ctxT(h.t), &notifierv1.GetNotificationRequest{NotificationId: id})
	if err != nil {
		h.t.Fatalf("GetNotification: %v", err)
	}
	return n.GetButtonPresses()
}

func (h *harness) pressEvents() []*notifierv1.Event {
	h.t.Helper()
	resp, err := h.client.ListEvents(ctxT(h.t), &notifierv1.ListEventsRequest{
		Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_BUTTON_PRESSED}, Limit: 1000})
	if err != nil {
		h.t.Fatalf("ListEvents: %v", err)
	}
	return resp.GetEvents()
}

func testButtonsPress(t *testing.T, h *harness, chat int64) {
	r := h.notify(&notifierv1.NotifyRequest{UserId: "bo", Text: "Deploy api?", Buttons: twoRows(), CallbackAnswer: "Got it"})
	n := h.waitFinal(r.GetNotificationId())
	id, msgID := n.GetNotificationId(), n.GetMessageIds()[0]
	before := len(h.pressEvents())

	qid, err := h.fake.Press(chat, msgID, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	waitAnswered(t, h, qid, "Got it")
	eventually(t, 10*time.Second, "press recorded", func() bool { return len(h.presses(id)) == 1 })
	// Telegram delivers the update again (same update_id), or the same
	// query in another update: still one press.
	h.fake.RedeliverCallback(qid, false)
	h.fake.RedeliverCallback(qid, true)
	eventually(t, 10*time.Second, "redeliveries consumed", func() bool { return h.fake.PendingUpdates() == 0 })
	// A second press of another button, a sentinel that the redeliveries
	// were processed before it.
	q2, err := h.fake.Press(chat, msgID, "Snooze")
	if err != nil {
		t.Fatal(err)
	}
	waitAnswered(t, h, q2, "Got it")
	eventually(t, 10*time.Second, "second press recorded", func() bool { return len(h.presses(id)) == 2 })
	ps := h.presses(id)
	if ps[0].GetCallback() != "approve:order-7" || ps[1].GetCallback() != "snooze:1h" ||
		ps[0].GetUsername() != fmt.Sprintf("user%d", chat) || ps[0].GetPressedAt() == nil {
		t.Fatalf("presses = %v", ps)
	}
	evs := h.pressEvents()[before:]
	if len(evs) != 2 || evs[0].GetNotificationId() != id || evs[0].GetUserId() != "bo" || evs[0].GetChatId() != chat ||
		evs[0].GetCallback() != "approve:order-7" || evs[0].GetUsername() != fmt.Sprintf("user%d", chat) {
		t.Fatalf("BUTTON_PRESSED events = %v", evs)
	}

	// A press from another chat: answered, not recorded.
	other := chat + 1
	q3 := h.fake.InjectCallback(other, msgID, other, delivery.CallbackData(id, 0, 0))
	waitAnswered(t, h, q3, "")
	// An unknown (or expired) notification: answered politely, recorded
	// without a notification id.
	q4 := h.fake.InjectCallback(chat, msgID, chat, delivery.CallbackData(strings.Repeat("ab", 16), 0, 0))
	waitAnswered(t, h, q4, updates.ReplyExpired)
	eventually(t, 10*time.Second, "expired press recorded", func() bool { return len(h.pressEvents()) == before+3 })
	evs = h.pressEvents()[before:]
	if e := evs[2]; e.GetNotificationId() != "" || e.GetChatId() != chat || e.GetCallback() != "" {
		t.Fatalf("expired press event = %v", e)
	}
	if len(h.presses(id)) != 2 {
		t.Fatalf("presses after the other chat's = %v", h.presses(id))
	}
	if sp := h.fake.Spinning(); len(sp) != 0 {
		t.Fatalf("queries left unanswered: %v", sp)
	}
}

// testButtonsREST sends buttons in a REST body and reads the press back.
func testButtonsREST(t *testing.T, h *harness, chat int64) {
	code, body := h.rest("POST", "/v1/users/bo/notifications", map[string]any{"text": "over REST",
		"callback_answer": "Thanks",
		"buttons":         []any{map[string]any{"buttons": []any{map[string]any{"text": "Ack", "callback": "ack:rest"}}}}})
	id, _ := body["notification_id"].(string)
	if code != http.StatusOK || id == "" {
		t.Fatalf("REST Notify = %d %v", code, body)
	}
	n := h.waitFinal(id)
	qid, err := h.fake.Press(chat, n.GetMessageIds()[0], "Ack")
	if err != nil {
		t.Fatal(err)
	}
	waitAnswered(t, h, qid, "Thanks")
	var presses []any
	eventually(t, 10*time.Second, "REST press visible", func() bool {
		code, body = h.rest("GET", "/v1/notifications/"+id, nil)
		presses, _ = body["button_presses"].([]any)
		return code == http.StatusOK && len(presses) == 1
	})
	p, _ := presses[0].(map[string]any)
	if p["callback"] != "ack:rest" || p["pressed_at"] == nil {
		t.Fatalf("REST press = %v", p)
	}
}

func testButtonsRefused(t *testing.T, h *harness, chat int64) {
	ctx := ctxT(t)
	msgs := len(h.fake.Messages(chat))
	many := make([]*notifierv1.ButtonRow, 13)
	for i := range many {
		many[i] = row(cbButton("a", "1"), cbButton("b", "2"), cbButton("c", "3"), cbButton("d", "4"),
			cbButton("e", "5"), cbButton("f", "6"), cbButton("g", "7"), cbButton("h", "8"))
	}
	nine := row(cbButton("1", "1"), cbButton("2", "2"), cbButton("3", "3"), cbButton("4", "4"), cbButton("5", "5"),
		cbButton("6", "6"), cbButton("7", "7"), cbButton("8", "8"), cbButton("9", "9"))
	for _, tc := range []struct {
		name    string
		buttons []*notifierv1.ButtonRow
		answer  string
		field   string
	}{
		{"empty text", []*notifierv1.ButtonRow{row(cbButton("ok", "x")), row(cbButton("", "x"))}, "", "buttons[1].buttons[0].text"},
		{"long text", []*notifierv1.ButtonRow{row(cbButton(strings.Repeat("é", 65), "x"))}, "", "buttons[0].buttons[0].text"},
		{"no action", []*notifierv1.ButtonRow{row(&notifierv1.Button{Text: "x"})}, "", "buttons[0].buttons[0]"},
		{"ftp url", []*notifierv1.ButtonRow{row(urlButton("x", "ftp://example.com"))}, "", "buttons[0].buttons[0].url"},
		{"javascript url", []*notifierv1.ButtonRow{row(urlButton("x", "javascript:alert(1)"))}, "", "buttons[0].buttons[0].url"},
		{"long url", []*notifierv1.ButtonRow{row(urlButton("x", "https://e.com/"+strings.Repeat("a", 2048)))}, "", "buttons[0].buttons[0].url"},
		{"empty callback", []*notifierv1.ButtonRow{row(cbButton("x", ""))}, "", "buttons[0].buttons[0].callback"},
		{"long callback", []*notifierv1.ButtonRow{row(cbButton("x", strings.Repeat("c", 257)))}, "", "buttons[0].buttons[0].callback"},
		{"long copy_text", []*notifierv1.ButtonRow{row(&notifierv1.Button{Text: "x",
			Action: &notifierv1.Button_CopyText{CopyText: strings.Repeat("c", 257)}})}, "", "buttons[0].buttons[0].copy_text"},
		{"empty row", []*notifierv1.ButtonRow{row()}, "", "buttons[0].buttons"},
		{"nine in a row", []*notifierv1.ButtonRow{nine}, "", "buttons[0].buttons"},
		{"over 100", many, "", "buttons"},
		{"long answer", []*notifierv1.ButtonRow{row(cbButton("x", "y"))}, strings.Repeat("a", 201), "callback_answer"},
	} {
		_, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "bo", Text: "x", Buttons: tc.buttons, CallbackAnswer: tc.answer})
		wantCode(t, err, codes.InvalidArgument)
		if err != nil && !strings.Contains(err.Error(), "invalid "+tc.field+":") {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
		}
	}
	// tg:// and 256-byte callbacks are fine; a REST button with two actions is not.
	r := h.notify(&notifierv1.NotifyRequest{UserId: "bo", Text: "ok", Buttons: []*notifierv1.ButtonRow{
		row(urlButton("tg", "tg://resolve?domain=telegram"), cbButton("long", strings.Repeat("c", 256)))}})
	if n := h.waitFinal(r.GetNotificationId()); n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("tg:// and a 256-byte callback: %v", n)
	}
	msgs++
	code, body := h.rest("POST", "/v1/users/bo/notifications", `{"text":"x","buttons":[{"buttons":[{"text":"a","url":"https://e.com","callback":"y"}]}]}`)
	if code != http.StatusBadRequest {
		t.Fatalf("REST button with two actions = %d %v, want 400", code, body)
	}
	code, body = h.rest("POST", "/v1/users/bo/notifications", `{"text":"x","buttons":[{"buttons":[{"text":"a"}]}]}`)
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body), "buttons[0].buttons[0]") {
		t.Fatalf("REST button with no action = %d %v, want 400 naming it", code, body)
	}
	if got := len(h.fake.Messages(chat)); got != msgs {
		t.Fatalf("%d messages after refused input, want %d", got, msgs)
	}
}

// TestButtonsWebhook checks the webhook path: setWebhook subscribes to
// callback_query, and a press comes in, is answered and recorded.
func TestButtonsWebhook(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{webhook: true})
	const chat = int64(18101)
	h.link("wes", chat)
	if info := h.fake.WebhookInfo(); !strings.Contains(strings.Join(info.AllowedUpdates, ","), "callback_query") {
		t.Fatalf("allowed_updates %v lack callback_query", info.AllowedUpdates)
	}
	r := h.notify(&notifierv1.NotifyRequest{UserId: "wes", Text: "ok?", Buttons: twoRows(), CallbackAnswer: "Noted"})
	n := h.waitFinal(r.GetNotificationId())
	qid, err := h.fake.Press(chat, n.GetMessageIds()[0], "Snooze")
	if err != nil {
		t.Fatal(err)
	}
	waitAnswered(t, h, qid, "Noted")
	eventually(t, 10*time.Second, "press recorded", func() bool { return len(h.presses(n.GetNotificationId())) == 1 })
}

// TestSandboxPress checks POST /sandbox/press and the buttons in GET
// /sandbox/chats/{id}/messages: a press answered with the toast and seen
// in GetNotification, 400 for bad bodies, 404 for no message or button.
func TestSandboxPress(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	const chat = int64(18201)
	h.link("sam", chat)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "sam", Text: "Approve order 7?", Buttons: twoRows(), CallbackAnswer: "Approved"})
	n := h.waitFinal(r.GetNotificationId())
	msgID := n.GetMessageIds()[0]

	code, body := h.rest("GET", fmt.Sprintf("/sandbox/chats/%d/messages", chat), nil)
	msgs, _ := body["messages"].([]any)
	if code != http.StatusOK || len(msgs) == 0 {
		t.Fatalf("messages %d %v", code, body)
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	rows, _ := last["buttons"].([]any)
	if len(rows) != 2 || !strings.Contains(fmt.Sprint(rows[0]), "Approve") || !strings.Contains(fmt.Sprint(rows[1]), "https://example.com/o/7") {
		t.Fatalf("sandbox shows buttons %v", last["buttons"])
	}

	code, body = h.rest("POST", "/sandbox/press", map[string]any{"chat_id": chat, "message_id": msgID, "button_text": "Approve"})
	if code != http.StatusOK || body["answered"] != true || body["answer_text"] != "Approved" || body["callback_query_id"] == "" {
		t.Fatalf("press = %d %v", code, body)
	}
	eventually(t, 10*time.Second, "press recorded", func() bool {
		ps := h.presses(n.GetNotificationId())
		return len(ps) == 1 && ps[0].GetCallback() == "approve:order-7"
	})
	for _, tc := range []struct {
		body any
		want int
	}{
		{`{"chat_id":`, http.StatusBadRequest},
		{map[string]any{"chat_id": chat, "message_id": msgID}, http.StatusBadRequest},
		{map[string]any{"chat_id": 0, "message_id": msgID, "button_text": "Approve"}, http.StatusBadRequest},
		{map[string]any{"chat_id": chat, "message_id": -1, "button_text": "Approve"}, http.StatusBadRequest},
		{map[string]any{"chat_id": chat, "message_id": msgID, "button_text": "Approve", "extra": 1}, http.StatusBadRequest},
		{map[string]any{"chat_id": chat, "message_id": msgID + 100, "button_text": "Approve"}, http.StatusNotFound},
		{map[string]any{"chat_id": chat, "message_id": msgID, "button_text": "Nope"}, http.StatusNotFound},
		{map[string]any{"chat_id": chat, "message_id": msgID, "button_text": "Open"}, http.StatusNotFound}, // a URL button
	} {
		if code, body := h.rest("POST", "/sandbox/press", tc.body); code != tc.want {
			t.Errorf("press %v = %d %v, want %d", tc.body, code, body, tc.want)
		}
	}
}
