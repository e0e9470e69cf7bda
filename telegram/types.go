package telegram

import (
	"strings"
	"unicode"
)

// Update kinds, as used in allowed_updates and as returned by [Update.Kind].
const (
	UpdateKindMessage           = "message"
	UpdateKindEditedMessage     = "edited_message"
	UpdateKindChannelPost       = "channel_post"
	UpdateKindEditedChannelPost = "edited_channel_post"
	UpdateKindMyChatMember      = "my_chat_member"
	UpdateKindChatMember        = "chat_member"
	UpdateKindCallbackQuery     = "callback_query"
)

// Chat types, the values of [Chat.Type].
const (
	ChatTypePrivate    = "private"
	ChatTypeGroup      = "group"
	ChatTypeSupergroup = "supergroup"
	ChatTypeChannel    = "channel"
)

// Chat member statuses, the values of [ChatMember.Status]. In a private chat
// my_chat_member reports [MemberStatusKicked] when the user blocks the bot and
// [MemberStatusMember] when they unblock it.
const (
	MemberStatusCreator       = "creator"
	MemberStatusAdministrator = "administrator"
	MemberStatusMember        = "member"
	MemberStatusRestricted    = "restricted"
	MemberStatusLeft          = "left"
	MemberStatusKicked        = "kicked"
)

// Parse modes accepted by sendMessage. The Bot API matches them
// case-insensitively; see [ValidParseMode].
const (
	ParseModeMarkdownV2 = "MarkdownV2"
	ParseModeHTML       = "HTML"
	ParseModeMarkdown   = "Markdown" // legacy; prefer MarkdownV2 or HTML
)

// MaxMessageLen is the longest message text Telegram accepts, in UTF-16 code
// units after entity parsing (see [UTF16Len]).
const MaxMessageLen = 4096

// Update is one incoming update. At most one of the optional fields is set;
// fields for kinds tgnotify does not handle are not decoded.
type Update struct {
	// UpdateID identifies the update. It normally increases by one, but after
	// a week without updates it restarts at a random value: deduplicate by
	// remembering ids, not with a high-water mark.
	UpdateID int64 `json:"update_id"`
	// Message is a new incoming message (for example "/start <token>").
	Message *Message `json:"message,omitempty"`
	// EditedMessage is a new version of a message known to the bot.
	EditedMessage *Message `json:"edited_message,omitempty"`
	// ChannelPost is a new post in a channel the bot is a member of.
	ChannelPost *Message `json:"channel_post,omitempty"`
	// EditedChannelPost is a new version of a channel post.
	EditedChannelPost *Message `json:"edited_channel_post,omitempty"`
	// MyChatMember reports a change of the bot's own membership in a chat;
	// in private chats it is how a block or unblock by the user is reported.
	MyChatMember *ChatMemberUpdated `json:"my_chat_member,omitempty"`
	// ChatMember reports a change of another member's status (only when
	// requested explicitly in allowed_updates).
	ChatMember *ChatMemberUpdated `json:"chat_member,omitempty"`
	// CallbackQuery is a press of an inline keyboard callback button
	// (only when callback_query is in allowed_updates, or it is empty).
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
}

// Kind returns the name of the field that is set ("message",
// "my_chat_member", ...), or "" when the update is of a kind this package
// does not decode.
func (u Update) Kind() string {
	switch {
	case u.Message != nil:
		return UpdateKindMessage
	case u.EditedMessage != nil:
		return UpdateKindEditedMessage
	case u.ChannelPost != nil:
		return UpdateKindChannelPost
	case u.EditedChannelPost != nil:
		return UpdateKindEditedChannelPost
	case u.MyChatMember != nil:
		return UpdateKindMyChatMember
	case u.ChatMember != nil:
		return UpdateKindChatMember
	case u.CallbackQuery != nil:
		return UpdateKindCallbackQuery
	}
	return ""
}

// Message is a message in a chat.
type Message struct {
	// MessageID is unique inside its chat only.
	MessageID int64 `json:"message_id"`
	// MessageThreadID is the forum topic the message belongs to, if any.
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
	// IsTopicMessage is true for a message sent into a forum topic.
	IsTopicMessage bool `json:"is_topic_message,omitempty"`
	// From is the sender; empty for messages sent on behalf of chats.
	From *User `json:"from,omitempty"`
	// SenderChat is the chat on whose behalf the message was sent, if any.
	SenderChat *Chat `json:"sender_chat,omitempty"`
	// Date is the Unix time the message was sent.
	Date int64 `json:"date"`
	// Chat is the chat the message belongs to.
	Chat Chat `json:"chat"`
	// EditDate is the Unix time of the last edit, if any.
	EditDate int64 `json:"edit_date,omitempty"`
	// Text is the UTF-8 text of a text message, markup removed.
	Text string `json:"text,omitempty"`
	// Entities are the special entities (commands, bold, links...) in Text.
	Entities []MessageEntity `json:"entities,omitempty"`
	// LinkPreviewOptions are the options used for the link preview, if any.
	LinkPreviewOptions *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	// MigrateToChatID is set on the service message telling that this group
	// was upgraded to the supergroup with that id.
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	// MigrateFromChatID is set on the service message in the new supergroup
	// naming the group it was upgraded from.
	MigrateFromChatID int64 `json:"migrate_from_chat_id,omitempty"`
	// Photo is a photo message's sizes, the largest last.
	Photo []PhotoSize `json:"photo,omitempty"`
	// Document is a document message's file.
	Document *Document `json:"document,omitempty"`
	// Caption is a media message's caption, markup removed.
	Caption string `json:"caption,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Document is a general file.
type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// MediaFileID returns the file_id of m's media: the largest size of a
// photo (by area, the last on a tie), a document's; "" when it has none.
func (m Message) MediaFileID() string {
	if m.Document != nil {
		return m.Document.FileID
	}
	best, area := "", -1
	for _, p := range m.Photo {
		if a := p.Width * p.Height; a >= area {
			best, area = p.FileID, a
		}
	}
	return best
}

// Command splits a bot command such as "/start abc" or "/start@my_bot abc";
// see [ParseCommand].
func (m Message) Command() (name, bot, args string, ok bool) {
	return ParseCommand(m.Text)
}

// ParseCommand splits a bot command text "/name", "/name@bot", either
// followed by arguments after a space, tab or newline ("/start abc",
// "/start\nabc"). It returns the name without the slash in lower case
// ("start"), the bot the command is addressed to as written ("my_bot", or
// "" for a bare command; compare it with [CommandFor]) and the arguments
// with surrounding white space trimmed. ok is false when text does not
// start with a command: no name, or an "@" with no bot name after it.
func ParseCommand(text string) (name, bot, args string, ok bool) {
	rest, found := strings.CutPrefix(text, "/")
	if !found {
		return "", "", "", false
	}
	head, args := rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		head, args = rest[:i], strings.TrimSpace(rest[i:])
	}
	name, bot, mention := strings.Cut(head, "@")
	if name == "" || (mention && bot == "") {
		return "", "", "", false
	}
	return strings.ToLower(name), bot, args, true
}

// CommandFor reports whether a command addressed to bot (as returned by
// [ParseCommand]) is meant for the bot called username: a bare command
// ("" bot) is meant for every bot in the chat, "/cmd@name" only for the
// bot of that username, compared case-insensitively as Telegram does. In
// groups, "/stop@other_bot" is meant for another bot and must be ignored.
func CommandFor(bot, username string) bool {
	return bot == "" || (username != "" && strings.EqualFold(bot, username))
}

// Chat is a private chat, group, supergroup or channel. Ids exceed 32 bits;
// supergroup and channel ids are negative (-100…).
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	// IsForum is true for a supergroup with topics.
	IsForum bool `json:"is_forum,omitempty"`
}

// IsGroup reports whether the chat is a group or a supergroup.
func (c Chat) IsGroup() bool {
	return c.Type == ChatTypeGroup || c.Type == ChatTypeSupergroup
}

// User is a Telegram user or bot.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// ChatMemberUpdated reports a change of a chat member's status.
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          User       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// ChatMember is a member of a chat. The Bot API has one object per status;
// this type keeps the fields they share (see the MemberStatus constants).
type ChatMember struct {
	Status string `json:"status"`
	User   User   `json:"user"`
	// UntilDate is the Unix time a restriction or ban ends (0: forever).
	UntilDate int64 `json:"until_date,omitempty"`
}

// MessageEntity is one special entity in a text. Offset and Length count
// UTF-16 code units (see [UTF16Len]).
type MessageEntity struct {
	// Type is for example "bot_command", "bold", "text_link", "pre".
	Type     string `json:"type"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`
	User     *User  `json:"user,omitempty"`
	Language string `json:"language,omitempty"`
	// CustomEmojiID is set for "custom_emoji" entities.
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// LinkPreviewOptions control the link preview of a sent message.
type LinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferSmallMedia bool   `json:"prefer_small_media,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
	ShowAboveText    bool   `json:"show_above_text,omitempty"`
}

// InlineKeyboardMarkup is an inline keyboard (reply_markup of a sent or
// edited message): rows of buttons.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// InlineKeyboardButton is one inline keyboard button: Text and exactly one
// of URL, CallbackData (1-64 bytes) or CopyText.
type InlineKeyboardButton struct {
	Text         string          `json:"text"`
	URL          string          `json:"url,omitempty"`
	CallbackData string          `json:"callback_data,omitempty"`
	CopyText     *CopyTextButton `json:"copy_text,omitempty"`
}

// CopyTextButton copies Text (1-256 characters) to the clipboard.
type CopyTextButton struct {
	Text string `json:"text"`
}

// MaxCallbackData is the longest callback_data Telegram accepts, in bytes.
const MaxCallbackData = 64

// ReplyParameters describe the message a sent message replies to.
type ReplyParameters struct {
	// MessageID is the message replied to, in the target chat.
	MessageID int64 `json:"message_id"`
	// AllowSendingWithoutReply sends the message even when the message
	// replied to is not found (deleted).
	AllowSendingWithoutReply bool `json:"allow_sending_without_reply,omitempty"`
}

// WebhookInfo is the current webhook status returned by getWebhookInfo.
type WebhookInfo struct {
	// URL is the webhook URL; empty when no webhook is set (polling mode).
	URL                  string `json:"url"`
	HasCustomCertificate bool   `json:"has_custom_certificate"`
	// PendingUpdateCount is the number of updates awaiting delivery.
	PendingUpdateCount int    `json:"pending_update_count"`
	IPAddress          string `json:"ip_address,omitempty"`
	// LastErrorDate is the Unix time of the most recent delivery error.
	LastErrorDate int64 `json:"last_error_date,omitempty"`
	// LastErrorMessage describes the most recent delivery error.
	LastErrorMessage             string   `json:"last_error_message,omitempty"`
	LastSynchronizationErrorDate int64    `json:"last_synchronization_error_date,omitempty"`
	MaxConnections               int      `json:"max_connections,omitempty"`
	AllowedUpdates               []string `json:"allowed_updates,omitempty"`
}

// ResponseParameters is the "parameters" object of a failed request.
type ResponseParameters struct {
	// MigrateToChatID is the supergroup a group was upgraded to.
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	// RetryAfter is the number of seconds to wait after a 429.
	RetryAfter int `json:"retry_after,omitempty"`
}
