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
	if !media {
		return Split(text, parseMode, telegram.MaxMessageLen)
	}
	if strings.TrimSpace(text) == "" {
		return []string{""}, nil
	}
	if c, err := Split(text, parseMode, telegram.MaxCaptionLen); err == nil && len(c) == 1 {
		return c, nil
	}
	rest, err := Split(text, parseMode, telegram.MaxMessageLen)
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
func (d *Dispatcher) sendMedia(hard context.Context, chat int64, n Notification, caption, mode string, replyTo int64) (telegram.Message, error) {
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
	paid := d.cfg.AllowPaidBroadcast || n.PaidBroadcast
	if n.Media.Kind == MediaDocument {
		return ms.SendDocument(ctx, telegram.SendDocumentParams{ChatID: chat, Document: n.Media.Source(), Caption: caption,
			ParseMode: mode, DisableNotification: n.DisableNotification, ProtectContent: n.ProtectContent,
			ReplyParameters: rp, AllowPaidBroadcast: paid})
	}
	return ms.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: chat, Photo: n.Media.Source(), Caption: caption,
		ParseMode: mode, DisableNotification: n.DisableNotification, ProtectContent: n.ProtectContent,
		ReplyParameters: rp, AllowPaidBroadcast: paid})
}
