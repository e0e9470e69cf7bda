package telegram

import "context"

// EditMessageTextParams are the parameters of editMessageText for a
// message the bot sent to a chat.
type EditMessageTextParams struct {
	ChatID    int64  `json:"chat_id"`
	MessageID int64  `json:"message_id"`
	Text      string `json:"text"`
	ParseMode string `json:"parse_mode,omitempty"`
	// LinkPreviewOptions control the link preview; nil keeps the default.
	LinkPreviewOptions *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	// ReplyMarkup is the inline keyboard; nil removes it (Telegram drops a
	// keyboard that an edit does not send again).
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// EditMessageCaptionParams are the parameters of editMessageCaption.
type EditMessageCaptionParams struct {
	ChatID    int64  `json:"chat_id"`
	MessageID int64  `json:"message_id"`
	Caption   string `json:"caption,omitempty"`
	ParseMode string `json:"parse_mode,omitempty"`
	// ReplyMarkup is the inline keyboard; nil removes it.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// EditMessageReplyMarkupParams are the parameters of
// editMessageReplyMarkup.
type EditMessageReplyMarkupParams struct {
	ChatID    int64 `json:"chat_id"`
	MessageID int64 `json:"message_id"`
	// ReplyMarkup is the new inline keyboard; nil removes it.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

type deleteMessagesRequest struct {
	ChatID     int64   `json:"chat_id"`
	MessageIDs []int64 `json:"message_ids"`
}

// EditMessageText replaces the text (and keyboard) of a sent text message.
func (c *Client) EditMessageText(ctx context.Context, p EditMessageTextParams) error {
	return c.call(ctx, "editMessageText", p, nil, 0)
}

// EditMessageCaption replaces the caption (and keyboard) of a sent media
// message.
func (c *Client) EditMessageCaption(ctx context.Context, p EditMessageCaptionParams) error {
	return c.call(ctx, "editMessageCaption", p, nil, 0)
}

// EditMessageReplyMarkup replaces (nil: removes) the keyboard of a sent
// message.
func (c *Client) EditMessageReplyMarkup(ctx context.Context, p EditMessageReplyMarkupParams) error {
	return c.call(ctx, "editMessageReplyMarkup", p, nil, 0)
}

// MaxDeleteMessages is the most message ids one deleteMessages takes.
const MaxDeleteMessages = 100

// DeleteMessages deletes 1-100 messages of a chat; unknown ones are
// skipped by Telegram.
func (c *Client) DeleteMessages(ctx context.Context, chatID int64, messageIDs []int64) error {
	return c.call(ctx, "deleteMessages", deleteMessagesRequest{ChatID: chatID, MessageIDs: messageIDs}, nil, 0)
}

// IsNotModified reports a 400 "message is not modified": the edit asks for
// the content the message has already (an edit that is done).
func IsNotModified(err error) bool { return asError(err).has(400, "message is not modified") }
