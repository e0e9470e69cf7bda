package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Durations of update de-duplication.
const (
	// updateClaimTTL is how long a claim on an update lasts; if the worker
	// dies, the redelivered update is processed after it lapses.
	updateClaimTTL = 2 * time.Minute
	// updateKeep is how long a processed update id is remembered: Telegram
	// keeps undelivered updates for 24 hours.
	updateKeep = 25 * time.Hour
)

// Replies the bot sends in private chats.
const (
	// DefaultWelcomeMessage is sent after a successful link unless
	// WELCOME_MESSAGE overrides it.
	DefaultWelcomeMessage = "You're all set: notifications will arrive in this chat. Send /stop to unsubscribe."
	replyBadToken         = "This link has expired or was already used. Please open a fresh link from the app."
	replyNoToken          = "Hi! I deliver notifications from the app. To connect this chat, open the link the app gives you (it looks like t.me/<bot>?start=...) and press Start."
	replyStopped          = "Done: you will no longer receive notifications here. Open a new link from the app to reconnect."
	replyNotLinked        = "This chat is not connected to any account."
)

// Bot processes Telegram updates: /start <token> links a user, /stop and
// blocking the bot unlink, group migrations move links. Each update id is
// processed once, however often Telegram delivers it. Its replies are
// queued ([Replier]): update handling never calls Telegram itself, so a
// burst of updates is answered within the bot's limits, not around them.
type Bot struct {
	store   store.Store
	metrics *metrics.Metrics
	replies Replier
	welcome string
	log     *zap.Logger
	now     func() time.Time
}

// Replier queues the bot's replies for the delivery workers
// ([delivery.Dispatcher] provides it).
type Replier interface {
	// EnqueueReply queues r at the head of its chat's backlog; queued is
	// false when r.Once suppressed it.
	EnqueueReply(ctx context.Context, r delivery.Reply) (queued bool, err error)
}

var _ telegram.UpdateHandler = (*Bot)(nil)

// NewBot builds the update handler. welcome is the message sent after a
// successful link (DefaultWelcomeMessage when empty).
func NewBot(st store.Store, replies Replier, welcome string, m *metrics.Metrics, log *zap.Logger) *Bot {
	if welcome == "" {
		welcome = DefaultWelcomeMessage
	}
	return &Bot{store: st, metrics: m, replies: replies, welcome: welcome, log: log, now: time.Now}
}

func updateKind(u telegram.Update) string {
	switch {
	case u.Message != nil:
		return metrics.KindMessage
	case u.MyChatMember != nil:
		return metrics.KindMyChatMember
	default:
		return metrics.KindOther
	}
}

// HandleUpdate processes one update exactly once. A returned error means the
// update was not applied and should be delivered again (the webhook answers
// 5xx, the poller retries it).
func (b *Bot) HandleUpdate(ctx context.Context, u telegram.Update) error {
	kind := updateKind(u)
	outcome, err := b.handle(ctx, u)
	if err != nil {
		outcome = metrics.OutcomeError
	}
	b.metrics.UpdateReceived(kind, outcome)
	return err
}

func (b *Bot) handle(ctx context.Context, u telegram.Update) (outcome string, err error) {
	state, err := b.store.ClaimUpdate(ctx, u.UpdateID, updateClaimTTL)
	if err != nil {
		return "", fmt.Errorf("claim update %d: %w", u.UpdateID, err)
	}
	switch state {
	case store.UpdateDone:
		b.log.Debug("duplicate update ignored", zap.Int64("update_id", u.UpdateID))
		return metrics.OutcomeDuplicate, nil
	case store.UpdateInProgress:
		return "", fmt.Errorf("update %d: %w", u.UpdateID, ErrUpdateInProgress)
	}
	outcome, err = b.process(ctx, u)
	if err != nil {
		// Use a fresh context: the release must happen even if ctx ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if rerr := b.store.ReleaseUpdate(rctx, u.UpdateID); rerr != nil {
			b.log.Warn("release update claim", zap.Int64("update_id", u.UpdateID), zap.Error(rerr))
		}
		return "", err
	}
	if err := b.store.CompleteUpdate(ctx, u.UpdateID, updateKeep); err != nil {
		// The work is done and idempotent; a redelivery finds the token
		// used or the link already gone.
		b.log.Warn("mark update done", zap.Int64("update_id", u.UpdateID), zap.Error(err))
	}
	return outcome, nil
}

// process applies one update and says whether it did anything.
func (b *Bot) process(ctx context.Context, u telegram.Update) (string, error) {
	switch {
	case u.Message != nil && u.Message.MigrateToChatID != 0:
		return metrics.OutcomeProcessed, b.migrate(ctx, u.Message.Chat.ID, u.Message.MigrateToChatID)
	case u.Message != nil && u.Message.Text != "":
		if _, _, ok := parseCommand(u.Message.Text); ok {
			return metrics.OutcomeProcessed, b.command(ctx, u.Message)
		}
	case u.MyChatMember != nil:
		m := u.MyChatMember
		if m.NewChatMember.Status == "kicked" || m.NewChatMember.Status == "left" {
			return metrics.OutcomeProcessed, b.unlinkChat(ctx, m.Chat.ID, "blocked")
		}
	}
	return metrics.OutcomeIgnored, nil
}

// parseCommand splits "/cmd@bot args" into "cmd" and "args". It reports
// false for text that is not a command.
func parseCommand(text string) (cmd, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, rest, _ := strings.Cut(text[1:], " ")
	head, _, _ = strings.Cut(head, "@")
	if head == "" {
		return "", "", false
	}
	return strings.ToLower(head), strings.TrimSpace(rest), true
}

func (b *Bot) command(ctx context.Context, m *telegram.Message) error {
	cmd, args, ok := parseCommand(m.Text)
	if !ok {
		return nil
	}
	switch cmd {
	case "start":
		return b.start(ctx, m, args)
	case "stop":
		users, err := b.store.UnlinkChat(ctx, m.Chat.ID)
		if err != nil {
			return fmt.Errorf("unlink chat: %w", err)
		}
		b.logUnlinked(users, "stop")
		if len(users) == 0 {
			b.reply(ctx, m.Chat.ID, replyNotLinked, "not_linked")
		} else {
			b.reply(ctx, m.Chat.ID, replyStopped, "")
		}
	}
	return nil
}

func (b *Bot) start(ctx context.Context, m *telegram.Message, token string) error {
	if token == "" {
		b.reply(ctx, m.Chat.ID, replyNoToken, "no_token")
		return nil
	}
	if !startParam.MatchString(token) {
		b.reply(ctx, m.Chat.ID, replyBadToken, "bad_token")
		return nil
	}
	username := m.Chat.Username
	if m.From != nil && m.From.Username != "" {
		username = m.From.Username
	}
	link, err := b.store.ConsumeLinkToken(ctx, token, m.Chat.ID, username, b.now())
	if errors.Is(err, store.ErrTokenInvalid) {
		b.reply(ctx, m.Chat.ID, replyBadToken, "bad_token")
		return nil
	}
	if err != nil {
		return fmt.Errorf("consume link token: %w", err)
	}
	b.metrics.Linked()
	b.log.Info("user linked", zap.String("user_id", link.UserID), zap.Int64("chat_id", link.ChatID))
	// The welcome goes to the head of the chat's backlog: a notification
	// the application sends as soon as it sees the link queues behind it.
	b.reply(ctx, m.Chat.ID, b.welcome, "")
	return nil
}

func (b *Bot) unlinkChat(ctx context.Context, chatID int64, why string) error {
	users, err := b.store.UnlinkChat(ctx, chatID)
	if err != nil {
		return fmt.Errorf("unlink chat: %w", err)
	}
	b.logUnlinked(users, why)
	return nil
}

func (b *Bot) migrate(ctx context.Context, oldID, newID int64) error {
	users, err := b.store.UpdateChatID(ctx, oldID, newID)
	if err != nil {
		return fmt.Errorf("migrate chat: %w", err)
	}
	if len(users) > 0 {
		b.log.Info("group migrated to supergroup; links moved", zap.Int("users", len(users)), zap.Int64("new_chat_id", newID))
	}
	return nil
}

func (b *Bot) logUnlinked(users []string, why string) {
	for _, u := range users {
		b.metrics.Unlinked(why)
		b.log.Info("user unlinked", zap.String("user_id", u), zap.String("reason", why))
	}
}

// reply queues text for chatID (see [delivery.Reply] for once). A reply
// that cannot be queued is logged and dropped: the update's effect (a
// link, an unlink) stands, and redelivering the update would not bring
// the reply back.
func (b *Bot) reply(ctx context.Context, chatID int64, text, once string) {
	if _, err := b.replies.EnqueueReply(ctx, delivery.Reply{ChatID: chatID, Text: text, Once: once}); err != nil {
		b.log.Warn("cannot queue a reply", zap.Int64("chat_id", chatID), zap.Error(err))
	}
}
