package delivery

import (
	"context"
	"strings"

	"github.com/tgnotify/tgnotify/telegram"
)

// PlanParts returns the parts of a notification's text. Without media
// they are Split's at Telegram's message limit. With media, part 0 is the
// media's caption: the whole text when it fits Telegram's caption limit
// (measured as Split measures the message limit, in UTF-16 code units after
// entity parsing) or is empty; otherwise "" (the media goes alone) and the
// text follows, split as without media.
func PlanParts(text, parseMode string, media bool) ([]string, error) {
	return planParts(text, parseMode, media, false)
}

// planParts is PlanParts; with topic, every part leaves room for the note
// a topic fallback puts in front of it (TopicNoteMaxLen).
func planParts(text, parseMode string, media, topic bool) ([]string, error) {
	msgLen, capLen := telegram.MaxMessageLen, telegram.MaxCaptionLen
	if topic {
		msgLen, capLen = msgLen-TopicNoteMaxLen, capLen-TopicNoteMaxLen
	}
	if !media {
		return Split(text, parseMode, msgLen)
	}
	if strings.TrimSpace(text) == "" {
		return []string{""}, nil
	}
	if c, err := Split(text, parseMode, capLen); err == nil && len(c) == 1 {
		return c, nil
	}
	rest, err := Split(text, parseMode, msgLen)
	if err != nil {
		return nil, err
	}
	return append([]string{""}, rest...), nil
}

// textParts counts the messages of parts that carry text apart from a
// media's caption (a long text after its media).
func textParts(parts []string, media bool) int {
	if media {
		return len(parts) - 1
	}
	return len(parts)
}

// sendMedia sends n's media with caption in parse mode mode, bounded by
// SendTimeout; replyTo (0: none) as in sendParams.
func (d *Dispatcher) sendMedia(hard context.Context, chat int64, n Notification, caption, mode string, replyTo, topic int64) (telegram.Message, error) {
	ms := d.sender
	var rp *telegram.ReplyParameters
	if replyTo != 0 {
		rp = &telegram.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
	}
	if caption == "" {
		mode = ""
	}
	ctx, cancel := context.WithTimeout(hard, d.cfg.SendTimeout)
	defer cancel()
	paid, kb := d.cfg.AllowPaidBroadcast || n.PaidBroadcast, lastPartKeyboard(n)
	if n.Media.Kind == MediaDocument {
		return ms.SendDocument(ctx, telegram.SendDocumentParams{ChatID: chat, MessageThreadID: topic, Document: n.Media.Source(), Caption: caption,
			ParseMode: mode, DisableNotification: n.DisableNotification, ProtectContent: n.ProtectContent,
			ReplyParameters: rp, AllowPaidBroadcast: paid, ReplyMarkup: kb})
	}
	return ms.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: chat, MessageThreadID: topic, Photo: n.Media.Source(), Caption: caption,
		ParseMode: mode, DisableNotification: n.DisableNotification, ProtectContent: n.ProtectContent,
		ReplyParameters: rp, AllowPaidBroadcast: paid, ReplyMarkup: kb})
}
