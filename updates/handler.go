// Package updates handles the Telegram updates the bot receives, by
// webhook or long polling: the link flow. "/start <token>" links the
// chat to the token's user, "/stop" and blocking the bot unlink it, a
// group's migration to a supergroup moves its links. Each update id is
// processed once however often Telegram delivers it; replies are queued
// through a [Replier] (the delivery engine), never sent from here.
//
//	h := updates.New(st, dispatcher, welcome, metrics, log)
//	h.SetIdentity(botIdentity)
//	err := h.HandleUpdate(ctx, update) // telegram.UpdateHandler
package updates

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Errors of update handling. Either makes the update be delivered again.
var (
	// ErrBotUnknown means a command is addressed to a bot by name while
	// this bot's own username is not known yet (getMe has not answered).
	ErrBotUnknown = errors.New("bot username not known yet (Telegram getMe has not answered)")
	// ErrUpdateInProgress means another worker is processing the same update.
	ErrUpdateInProgress = errors.New("update is being processed by another worker")
)

// startParam matches Telegram's rule for deep-link start parameters.
var startParam = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Store is what update handling needs from storage: the once-only claim
// on an update id and the link operations of the link flow (*store.Redis
// and *store.Memory provide it).
type Store interface {
	// ClaimUpdate records that update id is being processed; the claim
	// lapses after claimTTL.
	ClaimUpdate(ctx context.Context, updateID int64, claimTTL time.Duration) (store.UpdateState, error)
	// CompleteUpdate marks the update processed and remembers it for keep.
	CompleteUpdate(ctx context.Context, updateID int64, keep time.Duration) error
	// ReleaseUpdate drops a claim so that a redelivery is processed again.
	ReleaseUpdate(ctx context.Context, updateID int64) error
	// ConsumeLinkTokenIn deletes the token and links its user to chat, or
	// returns store.ErrTokenInvalid, or store.ErrTokenWrongKind (the token
	// stays) when the token is for the other kind of chat.
	ConsumeLinkTokenIn(ctx context.Context, token string, chat store.LinkChat, now time.Time) (store.Link, error)
	// UnlinkChat removes every link to chatID and returns the user ids,
	// recording reason (events.ReasonStop, events.ReasonBlocked or events.ReasonRemoved) in the
	// event log.
	UnlinkChat(ctx context.Context, chatID int64, reason string) ([]string, error)
	// UpdateChatID moves every link of chat oldID to newID.
	UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error)
}

// Identity tells the bot's own username once it is known
// (*telegram.BotIdentity provides it).
type Identity interface {
	Username() (string, bool)
}

// Durations of update processing and de-duplication.
const (
	// DefaultUpdateDeadline bounds the processing of one update: a few
	// store calls (replies are queued, not sent, so no Bot API call is
	// made). See [Handler.SetUpdateDeadline].
	DefaultUpdateDeadline = 5 * time.Second
	// updateClaimMargin is how much longer the claim on an update lasts
	// than the deadline of its processing: the claim outlives the work it
	// covers (a store write in flight at the deadline included), and when
	// the worker dies (kill -9) a redelivery is processed once the claim
	// lapses, a few seconds later, instead of every later update waiting.
	updateClaimMargin = 2 * time.Second
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

// Handler processes Telegram updates: /start <token> links a user, /stop and
// blocking the bot unlink, group migrations move links. Each update id is
// processed once, however often Telegram delivers it. Its replies are
// queued ([Replier]): update handling never calls Telegram itself, so a
// burst of updates is answered within the bot's limits, not around them.
type Handler struct {
	store   Store
	metrics *metrics.Metrics
	replies Replier
	welcome string
	log     *zap.Logger
	now     func() time.Time
	// deadline bounds the processing of one update (see SetUpdateDeadline).
	deadline time.Duration
	// identity is the bot's own username, to tell commands meant for it
	// from commands meant for other bots in a group.
	identity Identity
	// forward, when set, records texts as MESSAGE_RECEIVED (forward.go).
	forward *forwarding
	// callbacks, when set, answers and records button presses (callback.go).
	callbacks *callbacks
}

// Replier queues the bot's replies for the delivery workers
// ([delivery.Dispatcher] provides it).
type Replier interface {
	// EnqueueReply queues r at the head of its chat's backlog; queued is
	// false when r.Once suppressed it.
	EnqueueReply(ctx context.Context, r delivery.Reply) (queued bool, err error)
}

var _ telegram.UpdateHandler = (*Handler)(nil)

// New builds the update handler. welcome is the message sent after a
// successful link (DefaultWelcomeMessage when empty).
func New(st Store, replies Replier, welcome string, m *metrics.Metrics, log *zap.Logger) *Handler {
	if welcome == "" {
		welcome = DefaultWelcomeMessage
	}
	return &Handler{store: st, metrics: m, replies: replies, welcome: welcome, log: log, now: time.Now,
		deadline: DefaultUpdateDeadline}
}

// SetUpdateDeadline bounds the processing of one update by d (default
// DefaultUpdateDeadline; values ≤ 0 are ignored). The update's claim lasts
// d plus a small margin and the processing context ends at d, so a slow
// handler never outlives its claim, and the claim of a worker that died
// mid-update lapses soon after: a redelivery of that update, and every
// later update the poller holds behind it, waits seconds, not minutes.
// Replies are queued, so d covers store work only.
func (b *Handler) SetUpdateDeadline(d time.Duration) {
	if d > 0 {
		b.deadline = d
	}
}

// SetIdentity tells the bot its own username (known from configuration or
// getMe): a command addressed to another bot ("/stop@other_bot", in a
// group) is ignored. Without an identity only bare commands are obeyed.
func (b *Handler) SetIdentity(id Identity) {
	b.identity = id
}

// claimTTL is how long the claim on an update lasts.
func (b *Handler) claimTTL() time.Duration {
	return b.deadline + updateClaimMargin
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
func (b *Handler) HandleUpdate(ctx context.Context, u telegram.Update) error {
	if u.CallbackQuery != nil && b.callbacks != nil {
		return b.handleCallback(ctx, u)
	}
	kind := updateKind(u)
	outcome, err := b.handle(ctx, u)
	if err != nil {
		outcome = metrics.OutcomeError
	}
	b.metrics.UpdateReceived(kind, outcome)
	return err
}

func (b *Handler) handle(ctx context.Context, u telegram.Update) (outcome string, err error) {
	// The deadline starts before the claim is taken, so the processing
	// ends before the claim (deadline + margin from a later instant) lapses.
	pctx, cancel := context.WithTimeout(ctx, b.deadline)
	defer cancel()
	state, err := b.store.ClaimUpdate(pctx, u.UpdateID, b.claimTTL())
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
	outcome, err = b.process(pctx, u)
	if err != nil {
		// Use a fresh context: the release must happen even if ctx ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if rerr := b.store.ReleaseUpdate(rctx, u.UpdateID); rerr != nil {
			b.log.Warn("release update claim", zap.Int64("update_id", u.UpdateID), zap.Error(rerr))
		}
		return "", err
	}
	// A fresh context: the work is done even if the deadline just passed.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer ccancel()
	if err := b.store.CompleteUpdate(cctx, u.UpdateID, updateKeep); err != nil {
		// The work is done and idempotent; a redelivery finds the token
		// used or the link already gone.
		b.log.Warn("mark update done", zap.Int64("update_id", u.UpdateID), zap.Error(err))
	}
	return outcome, nil
}

// process applies one update and says whether it did anything.
func (b *Handler) process(ctx context.Context, u telegram.Update) (string, error) {
	switch {
	case u.Message != nil && u.Message.MigrateToChatID != 0:
		return metrics.OutcomeProcessed, b.migrate(ctx, u.Message.Chat.ID, u.Message.MigrateToChatID)
	case u.Message != nil && u.Message.Text != "":
		name, to, args, ok := telegram.ParseCommand(u.Message.Text)
		if !ok {
			return b.forwardText(ctx, u.Message)
		}
		forUs, err := b.commandForUs(to)
		if err != nil {
			return "", err
		}
		if !forUs {
			b.log.Debug("command for another bot ignored", zap.Int64("update_id", u.UpdateID), zap.String("bot", to))
			return metrics.OutcomeIgnored, nil
		}
		return metrics.OutcomeProcessed, b.command(ctx, u.Message, name, args)
	case u.CallbackQuery != nil && b.callbacks != nil:
		return b.recordPress(ctx, u.CallbackQuery)
	case u.MyChatMember != nil:
		m := u.MyChatMember
		if m.NewChatMember.Status == "kicked" || m.NewChatMember.Status == "left" {
			// In a group the bot was removed; in a private chat the user
			// blocked it (group.go).
			return metrics.OutcomeProcessed, b.unlinkChat(ctx, m.Chat.ID, removalReason(m.Chat))
		}
	}
	return metrics.OutcomeIgnored, nil
}

// commandForUs reports whether a command addressed to bot ("" for a bare
// command) is meant for this bot. While the bot's own username is not known
// yet (getMe has not answered) an addressed command is an error, so that
// the update is delivered again later rather than obeyed or dropped.
func (b *Handler) commandForUs(bot string) (bool, error) {
	if bot == "" {
		return true, nil
	}
	if b.identity == nil {
		return false, nil
	}
	username, ok := b.identity.Username()
	if !ok {
		return false, fmt.Errorf("command addressed to @%s: %w", bot, ErrBotUnknown)
	}
	return telegram.CommandFor(bot, username), nil
}

// command carries out the command name with its arguments.
func (b *Handler) command(ctx context.Context, m *telegram.Message, name, args string) error {
	switch name {
	case "start":
		return b.start(ctx, m, args)
	case "stop":
		users, err := b.store.UnlinkChat(ctx, m.Chat.ID, events.ReasonStop)
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

func (b *Handler) start(ctx context.Context, m *telegram.Message, token string) error {
	if token == "" {
		b.reply(ctx, m.Chat.ID, noTokenReply(m.Chat), "no_token")
		return nil
	}
	if !startParam.MatchString(token) {
		b.reply(ctx, m.Chat.ID, replyBadToken, "bad_token")
		return nil
	}
	link, err := b.store.ConsumeLinkTokenIn(ctx, token, linkChat(m), b.now())
	if errors.Is(err, store.ErrTokenInvalid) {
		b.reply(ctx, m.Chat.ID, replyBadToken, "bad_token")
		return nil
	}
	if errors.Is(err, store.ErrTokenWrongKind) {
		// Nothing linked, the token stays: the person can still open the
		// link where it belongs (group.go).
		b.wrongKind(ctx, m)
		return nil
	}
	if err != nil {
		return fmt.Errorf("consume link token: %w", err)
	}
	b.metrics.Linked()
	b.log.Info("user linked", zap.String("user_id", link.UserID), zap.Int64("chat_id", link.ChatID),
		zap.Stringer("chat_kind", link.ChatKind))
	// The welcome goes to the head of the chat's backlog: a notification
	// the application sends as soon as it sees the link queues behind it.
	b.reply(ctx, m.Chat.ID, b.welcome, "")
	return nil
}

func (b *Handler) unlinkChat(ctx context.Context, chatID int64, why string) error {
	users, err := b.store.UnlinkChat(ctx, chatID, why)
	if err != nil {
		return fmt.Errorf("unlink chat: %w", err)
	}
	b.logUnlinked(users, why)
	return nil
}

func (b *Handler) migrate(ctx context.Context, oldID, newID int64) error {
	users, err := b.store.UpdateChatID(ctx, oldID, newID)
	if err != nil {
		return fmt.Errorf("migrate chat: %w", err)
	}
	if len(users) > 0 {
		b.log.Info("group migrated to supergroup; links moved", zap.Int("users", len(users)), zap.Int64("new_chat_id", newID))
	}
	return nil
}

func (b *Handler) logUnlinked(users []string, why string) {
	for _, u := range users {
		b.metrics.Unlinked(why)
		b.log.Info("user unlinked", zap.String("user_id", u), zap.String("reason", why))
	}
}

// reply queues text for chatID (see [delivery.Reply] for once). A reply
// that cannot be queued is logged and dropped: the update's effect (a
// link, an unlink) stands, and redelivering the update would not bring
// the reply back.
func (b *Handler) reply(ctx context.Context, chatID int64, text, once string) {
	if _, err := b.replies.EnqueueReply(ctx, delivery.Reply{ChatID: chatID, Text: text, Once: once}); err != nil {
		b.log.Warn("cannot queue a reply", zap.Int64("chat_id", chatID), zap.Error(err))
	}
}
