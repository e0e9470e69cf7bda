package updates

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/telegram"
)

// MaxForwardedText bounds the text of a MESSAGE_RECEIVED event, in UTF-16
// code units as Telegram counts them: Telegram's own limit on a message,
// so a text is cut only when an update breaks it.
const MaxForwardedText = 4096

// ChatUsers tells who is linked to a chat (*store.Redis and *store.Memory
// provide it).
type ChatUsers interface {
	// ChatUsers returns the ids of the users linked to chatID (none when
	// the chat is not linked).
	ChatUsers(ctx context.Context, chatID int64) ([]string, error)
}

// forwarding is what recording MESSAGE_RECEIVED needs.
type forwarding struct {
	log   events.Appender
	users ChatUsers
}

// SetForwarding turns on MESSAGE_RECEIVED (NOTIFIER_FORWARD_MESSAGES): a
// text that is not a command, written in a private chat linked to a user,
// is appended to the event log for each user linked to the chat. Without
// it (the default) the users' words never reach the log.
func (b *Handler) SetForwarding(log events.Appender, users ChatUsers) {
	b.forward = &forwarding{log: log, users: users}
}

// forwardText records m as MESSAGE_RECEIVED when forwarding is on and m is
// a linked private chat's text. A failure makes the update be delivered
// again (a chat linked to several users may then see an event twice).
func (b *Handler) forwardText(ctx context.Context, m *telegram.Message) (string, error) {
	if b.forward == nil || m.Chat.Type != telegram.ChatTypePrivate || m.Text == "" {
		return metrics.OutcomeIgnored, nil
	}
	users, err := b.forward.users.ChatUsers(ctx, m.Chat.ID)
	if err != nil {
		return "", fmt.Errorf("forward message: users of chat: %w", err)
	}
	if len(users) == 0 {
		return metrics.OutcomeIgnored, nil
	}
	username := m.Chat.Username
	if m.From != nil && m.From.Username != "" {
		username = m.From.Username
	}
	// Time is left to the log (the append's), like every other event's.
	ev := events.Event{Type: events.TypeMessageReceived, ChatID: m.Chat.ID, Text: boundText(m.Text, MaxForwardedText),
		Username: username}
	for _, u := range users {
		ev.UserID = u
		if _, err := b.forward.log.Append(ctx, ev); err != nil {
			return "", fmt.Errorf("forward message: append event: %w", err)
		}
	}
	b.log.Debug("message forwarded to the event log", zap.Int64("chat_id", m.Chat.ID), zap.Int("users", len(users)))
	return metrics.OutcomeProcessed, nil
}

// boundText returns the longest prefix of s (valid UTF-8) of at most max
// UTF-16 code units, never splitting a character.
func boundText(s string, max int) string {
	if telegram.UTF16Len(s) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > max {
			return s[:i]
		}
		n += w
	}
	return s
}
