package updates

import (
	"context"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Group links. A group link token (a ?startgroup= link) is used by Telegram
// as "/start@<bot_username> <token>" in the group the person picked; the
// user is then linked to the group. A token of the other kind (a private
// token in a group, a group token in a private chat) links nothing and
// stays valid: the bot says in that chat where the link belongs, so the
// person can still open it there. Every reply goes to the chat the command
// came from, the group included.

// Replies about a link token used in the wrong kind of chat.
const (
	replyPrivateTokenInGroup = "This link connects a private chat, not a group: open it in a private chat with me and press Start. Nothing was connected here."
	replyGroupTokenInPrivate = "This link is for a group: open it and pick the group to add me to. Nothing was connected here."
	replyNoTokenGroup        = "Hi! I deliver notifications from the app. To connect this group, open the group link the app gives you (it looks like t.me/<bot>?startgroup=...) and pick this group."
)

// noTokenReply is the answer to a bare /start in chat.
func noTokenReply(chat telegram.Chat) string {
	if chat.IsGroup() {
		return replyNoTokenGroup
	}
	return replyNoToken
}

// linkChat describes the chat of m for ConsumeLinkTokenIn: its kind (a
// group or supergroup is a group, anything else private), the person's
// username and the group's title.
func linkChat(m *telegram.Message) store.LinkChat {
	chat := store.LinkChat{ID: m.Chat.ID, Username: m.Chat.Username}
	if m.From != nil && m.From.Username != "" {
		chat.Username = m.From.Username
	}
	if m.Chat.IsGroup() {
		chat.Kind = store.ChatGroup
		chat.Title = m.Chat.Title
	}
	return chat
}

// wrongKind tells the chat of m that the token it used is for the other
// kind of chat (once per interval per chat, like other junk answers).
func (b *Handler) wrongKind(ctx context.Context, m *telegram.Message) {
	if m.Chat.IsGroup() {
		b.reply(ctx, m.Chat.ID, replyPrivateTokenInGroup, "wrong_kind")
		return
	}
	b.reply(ctx, m.Chat.ID, replyGroupTokenInPrivate, "wrong_kind")
}

// removalReason is why a my_chat_member "left"/"kicked" unlinks chat: the
// bot was removed from a group, or the user blocked it in a private chat.
func removalReason(chat telegram.Chat) string {
	if chat.IsGroup() {
		return events.ReasonRemoved
	}
	return events.ReasonBlocked
}
