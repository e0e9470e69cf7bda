package fakebot

// The fake encodes what it sends with its own wire types rather than the
// telegram package's, so that a wrong JSON tag in the client is caught by
// the tests instead of being mirrored by the fake.

type wireUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	IsForum   bool   `json:"is_forum,omitempty"`
}

type wireEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

type wireLinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferSmallMedia bool   `json:"prefer_small_media,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
	ShowAboveText    bool   `json:"show_above_text,omitempty"`
}

type wireReplyParameters struct {
	MessageID                int64 `json:"message_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply,omitempty"`
}

type wireMessage struct {
	MessageID           int64                   `json:"message_id"`
	MessageThreadID     int64                   `json:"message_thread_id,omitempty"`
	IsTopicMessage      bool                    `json:"is_topic_message,omitempty"`
	From                *wireUser               `json:"from,omitempty"`
	Date                int64                   `json:"date"`
	Chat                wireChat                `json:"chat"`
	Text                string                  `json:"text,omitempty"`
	Entities            []wireEntity            `json:"entities,omitempty"`
	LinkPreviewOptions  *wireLinkPreviewOptions `json:"link_preview_options,omitempty"`
	ReplyToMessage      *wireMessage            `json:"reply_to_message,omitempty"`
	HasProtectedContent bool                    `json:"has_protected_content,omitempty"`
	MigrateToChatID     int64                   `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID   int64                   `json:"migrate_from_chat_id,omitempty"`
	ReplyMarkup         *wireKeyboard           `json:"reply_markup,omitempty"`
}

type wireChatMember struct {
	Status    string   `json:"status"`
	User      wireUser `json:"user"`
	UntilDate *int64   `json:"until_date,omitempty"`
}

type wireChatMemberUpdated struct {
	Chat          wireChat       `json:"chat"`
	From          wireUser       `json:"from"`
	Date          int64          `json:"date"`
	OldChatMember wireChatMember `json:"old_chat_member"`
	NewChatMember wireChatMember `json:"new_chat_member"`
}

type wireWebhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}
