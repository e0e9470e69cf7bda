package fakebot_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestReplyMarkupChecks checks reply_markup as Telegram checks it: a kept
// keyboard on the returned message and the record, and the errors of bad
// buttons.
func TestReplyMarkupChecks(t *testing.T) {
	srv, client := newServer(t)
	srv.Start(42, "alice", "")
	ctx := testCtx(t)
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{
		{{Text: "Open", URL: "https://example.com"}, {Text: "Ack", CallbackData: "n1:x:0:1"}},
		{{Text: "Copy", CopyText: &telegram.CopyTextButton{Text: "ABC-123"}}},
	}}
	if _, err := client.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "hi", ReplyMarkup: kb}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(42)
	got := msgs[len(msgs)-1].ReplyMarkup
	if got == nil || len(got.InlineKeyboard) != 2 || got.InlineKeyboard[0][1].CallbackData != "n1:x:0:1" ||
		got.InlineKeyboard[1][0].CopyText == nil || got.InlineKeyboard[1][0].CopyText.Text != "ABC-123" {
		t.Fatalf("recorded keyboard %+v", got)
	}

	for _, tc := range []struct{ name, markup, want string }{
		{"long data", `{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("x", 65) + `"}]]}`, "Bad Request: BUTTON_DATA_INVALID"},
		{"empty data", `{"inline_keyboard":[[{"text":"a","callback_data":""}]]}`, "Bad Request: BUTTON_DATA_INVALID"},
		{"no action", `{"inline_keyboard":[[{"text":"a"}]]}`, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"empty text", `{"inline_keyboard":[[{"text":"","url":"https://e.com"}]]}`, "Bad Request: can't parse inline keyboard button: Text must be non-empty"},
		{"two actions", `{"inline_keyboard":[[{"text":"a","url":"https://e.com","callback_data":"x"}]]}`, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must have exactly one optional field"},
		{"bad url", `{"inline_keyboard":[[{"text":"a","url":"ftp://e.com"}]]}`, "Bad Request: BUTTON_URL_INVALID"},
		{"row too long", `{"inline_keyboard":[[` + strings.Repeat(`{"text":"a","callback_data":"x"},`, 8) + `{"text":"a","callback_data":"x"}]]}`, "Bad Request: reply markup is too long"},
		{"not JSON", `{`, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"not rows", `{"inline_keyboard":[1]}`, `Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays`},
	} {
		body := `{"chat_id":42,"text":"x","reply_markup":` + jsonString(tc.markup) + `}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/bot"+srv.Token()+"/sendMessage", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		code, r := do(t, req)
		if code != 400 || r.Description != tc.want {
			t.Errorf("%s: %d %q, want 400 %q", tc.name, code, r.Description, tc.want)
		}
	}
	if n := len(srv.Messages(42)); n != len(msgs) {
		t.Fatalf("%d messages after refused sends, want %d", n, len(msgs))
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestPressAndAnswer checks a press: the callback_query update, the
// spinner until answerCallbackQuery, one answer only, and "too old" after
// CallbackAnswerTimeout.
func TestPressAndAnswer(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	srv, client := newServer(t, fakebot.WithClock(clk.Now))
	srv.Start(42, "alice", "")
	ctx := testCtx(t)
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{
		{{Text: "Open", URL: "https://example.com"}, {Text: "Ack", CallbackData: "ack-data"}}}}
	m, err := client.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "hi", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Press(42, m.MessageID, "Open"); !errors.Is(err, fakebot.ErrNoButton) {
		t.Fatalf("pressing a URL button: %v, want ErrNoButton", err)
	}
	if _, err := srv.Press(42, m.MessageID+5, "Ack"); !errors.Is(err, fakebot.ErrNoMessage) {
		t.Fatalf("pressing on no message: %v, want ErrNoMessage", err)
	}
	id, err := srv.Press(42, m.MessageID, "Ack")
	if err != nil {
		t.Fatal(err)
	}
	if sp := srv.Spinning(); len(sp) != 1 || sp[0] != id {
		t.Fatalf("spinning %v, want [%s]", sp, id)
	}
	us, err := client.GetUpdates(ctx, telegram.GetUpdatesParams{AllowedUpdates: []string{"message", "callback_query"}})
	if err != nil {
		t.Fatal(err)
	}
	q := us[len(us)-1].CallbackQuery
	if q == nil || q.ID != id || q.Data != "ack-data" || q.From.ID != 42 || q.From.Username != "alice" ||
		q.Message == nil || q.Message.Chat.ID != 42 || q.Message.MessageID != m.MessageID {
		t.Fatalf("callback query %+v", q)
	}
	if err := client.AnswerCallbackQuery(ctx, telegram.AnswerCallbackQueryParams{CallbackQueryID: id, Text: "Done"}); err != nil {
		t.Fatal(err)
	}
	cq, ok := srv.Callback(id)
	if !ok || !cq.Answered || cq.AnswerText != "Done" || len(srv.Spinning()) != 0 {
		t.Fatalf("after answer: %+v, spinning %v", cq, srv.Spinning())
	}
	var tgErr *telegram.Error
	for name, p := range map[string]telegram.AnswerCallbackQueryParams{
		"again":   {CallbackQueryID: id},
		"unknown": {CallbackQueryID: "123"},
	} {
		if err := client.AnswerCallbackQuery(ctx, p); !errors.As(err, &tgErr) ||
			tgErr.Description != "Bad Request: query is too old and response timeout expired or query ID is invalid" {
			t.Errorf("%s: %v", name, err)
		}
	}
	late, _ := srv.Press(42, m.MessageID, "Ack")
	clk.Add(fakebot.CallbackAnswerTimeout)
	if len(srv.Spinning()) != 0 {
		t.Fatal("a query past the timeout still spins")
	}
	if err := client.AnswerCallbackQuery(ctx, telegram.AnswerCallbackQueryParams{CallbackQueryID: late}); !errors.As(err, &tgErr) {
		t.Fatalf("late answer: %v", err)
	}
	if err := client.AnswerCallbackQuery(ctx, telegram.AnswerCallbackQueryParams{CallbackQueryID: late,
		Text: strings.Repeat("x", 201)}); !errors.As(err, &tgErr) || tgErr.Code != 400 {
		t.Fatalf("long text: %v", err)
	}
}

// TestPressInGroup checks a member's press in a group: the group's chat,
// the member as from.
func TestPressInGroup(t *testing.T) {
	srv, client := newServer(t)
	srv.StartGroup(-500, "team", 77, "bob", "")
	ctx := testCtx(t)
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "Ack", CallbackData: "d"}}}}
	m, err := client.SendMessage(ctx, telegram.SendMessageParams{ChatID: -500, Text: "hi", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PressAs(-500, m.MessageID, 77, "bob", "Ack"); err != nil {
		t.Fatal(err)
	}
	us, err := client.GetUpdates(ctx, telegram.GetUpdatesParams{})
	if err != nil {
		t.Fatal(err)
	}
	q := us[len(us)-1].CallbackQuery
	if q == nil || q.From.ID != 77 || q.From.Username != "bob" || q.Message.Chat.ID != -500 || q.Message.Chat.Type == telegram.ChatTypePrivate {
		t.Fatalf("group press %+v", q)
	}
}
