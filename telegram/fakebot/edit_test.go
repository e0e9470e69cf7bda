package fakebot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestEditAndDelete checks the edit and delete methods over real HTTP:
// the edits applied to the fake's messages, and Telegram's refusals.
func TestEditAndDelete(t *testing.T) {
	s := fakebot.NewServer()
	t.Cleanup(s.Close)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const chat = 501
	s.SendText(chat, "u", "hi")
	m, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: chat, Text: "running"})
	if err != nil {
		t.Fatal(err)
	}
	photo, err := c.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: chat, Photo: "https://example.com/a.png", Caption: "chart"})
	if err != nil {
		t.Fatal(err)
	}
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "Logs", URL: "https://x.test"}}}}
	tests := []struct {
		name string
		call func() error
		want string // "" for success, else a substring of the description
	}{
		{"text edit", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: m.MessageID, Text: "*done*",
				ParseMode: "MarkdownV2", ReplyMarkup: kb})
		}, ""},
		{"same again", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: m.MessageID, Text: "*done*",
				ParseMode: "MarkdownV2", ReplyMarkup: kb})
		}, "message is not modified: specified new message content and reply markup are exactly the same"},
		{"keyboard dropped by an edit without it", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: m.MessageID, Text: "*done*",
				ParseMode: "MarkdownV2"})
		}, ""},
		{"keyboard only", func() error {
			return c.EditMessageReplyMarkup(ctx, telegram.EditMessageReplyMarkupParams{ChatID: chat, MessageID: m.MessageID, ReplyMarkup: kb})
		}, ""},
		{"keyboard checked as on a send", func() error {
			bad := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "x",
				CallbackData: strings.Repeat("d", telegram.MaxCallbackData+1)}}}}
			return c.EditMessageReplyMarkup(ctx, telegram.EditMessageReplyMarkupParams{ChatID: chat, MessageID: m.MessageID, ReplyMarkup: bad})
		}, "Bad Request: BUTTON_DATA_INVALID"},
		{"unknown message", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: 999, Text: "x"})
		}, "Bad Request: message to edit not found"},
		{"text of a photo", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: photo.MessageID, Text: "x"})
		}, "there is no text in the message to edit"},
		{"caption of a photo", func() error {
			return c.EditMessageCaption(ctx, telegram.EditMessageCaptionParams{ChatID: chat, MessageID: photo.MessageID, Caption: "chart v2"})
		}, ""},
		{"caption of a text", func() error {
			return c.EditMessageCaption(ctx, telegram.EditMessageCaptionParams{ChatID: chat, MessageID: m.MessageID, Caption: "x"})
		}, "there is no caption in the message to edit"},
		{"too long", func() error {
			return c.EditMessageText(ctx, telegram.EditMessageTextParams{ChatID: chat, MessageID: m.MessageID, Text: strings.Repeat("a", 4097)})
		}, "message is too long"},
		{"delete, unknown ids skipped", func() error { return c.DeleteMessages(ctx, chat, []int64{photo.MessageID, 999}) }, ""},
		{"delete again", func() error { return c.DeleteMessages(ctx, chat, []int64{photo.MessageID}) }, "Bad Request: message to delete not found"},
		{"edit a deleted one", func() error {
			return c.EditMessageCaption(ctx, telegram.EditMessageCaptionParams{ChatID: chat, MessageID: photo.MessageID, Caption: "x"})
		}, "message to edit not found"},
		{"delete after 48 h", func() error {
			s.SetClock(func() time.Time { return time.Now().Add(fakebot.DeleteWindow + time.Minute) })
			defer s.SetClock(nil)
			return c.DeleteMessages(ctx, chat, []int64{m.MessageID})
		}, "Bad Request: message can't be deleted for everyone"},
		{"no ids", func() error { return c.DeleteMessages(ctx, chat, nil) }, "message identifiers are not specified"},
	}
	for _, tc := range tests {
		err := tc.call()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	got := s.Messages(chat)
	if len(got) != 2 {
		t.Fatalf("messages %+v", got)
	}
	if tm := got[0]; tm.PlainText != "done" || tm.Edits != 3 || tm.ReplyMarkup == nil || tm.Deleted {
		t.Fatalf("the text message: %+v", tm)
	}
	if pm := got[1]; pm.PlainText != "chart v2" || pm.Edits != 1 || !pm.Deleted {
		t.Fatalf("the photo: %+v", pm)
	}
}
