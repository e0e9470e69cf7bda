package updates

// Callback buttons: a callback_query update is a user pressing a callback
// button of a notification (its callback_data is delivery.CallbackData).
// The query is answered at once (answerCallbackQuery, with the
// notification's CallbackAnswer as the toast), in parallel with the
// update's processing, which records the press (the store's RecordPress:
// once per callback query id, in the record and the event log). The answer
// never waits more than answerWait for the store.

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// ReplyExpired is the toast of a press on a notification whose record is
// unknown or expired.
const ReplyExpired = "This notification has expired."

const (
	// answerWait is how long the answer waits for the notification's record
	// (for its toast) before answering without one: Telegram's clients
	// show a spinner until the answer, and the press must feel instant.
	answerWait = 500 * time.Millisecond
	// answerTimeout bounds the answerCallbackQuery call.
	answerTimeout = 5 * time.Second
	// maxAnswering bounds the answers in flight in the background: past
	// it, a press is answered on the update's own path (which then waits
	// for it), so a flood of presses slows its own intake instead of
	// opening unbounded goroutines and connections to Telegram.
	maxAnswering = 256
)

// PressStore is what recording a press needs (*store.RedisQueue and
// *store.MemoryQueue provide it).
type PressStore interface {
	// Get returns a notification or an error wrapping store.ErrNotFound.
	Get(ctx context.Context, id string) (delivery.Notification, error)
	// RecordPress records p once per p.QueryID (false: recorded before).
	RecordPress(ctx context.Context, p delivery.Press) (bool, error)
}

// Answerer answers callback queries (*telegram.Client provides it).
type Answerer interface {
	AnswerCallbackQuery(ctx context.Context, p telegram.AnswerCallbackQueryParams) error
}

// callbacks is what handling callback_query needs.
type callbacks struct {
	store PressStore
	bot   Answerer
	// answering holds a token per answer in flight (maxAnswering).
	answering chan struct{}
}

// SetCallbacks turns on callback buttons: callback_query updates are
// answered with bot and their presses recorded in st. Without it they are
// ignored (and not answered).
func (b *Handler) SetCallbacks(st PressStore, bot Answerer) {
	b.callbacks = &callbacks{store: st, bot: bot, answering: make(chan struct{}, maxAnswering)}
}

// lookup is the notification a callback query's data names, loaded once
// for both the answer and the record.
type lookup struct {
	done chan struct{}
	id   string
	row  int
	col  int
	ours bool // the data is delivery.CallbackData
	n    delivery.Notification
	err  error
}

type lookupKey struct{}

// handleCallback starts answering a callback query (the notification's
// record loaded in the background, the answer sent within answerWait of
// the load's start) and processes the update like any other, the press
// recorded by process (recordPress) with the same record.
func (b *Handler) handleCallback(ctx context.Context, u telegram.Update) error {
	q := u.CallbackQuery
	l := &lookup{done: make(chan struct{})}
	if len(q.Data) <= telegram.MaxCallbackData { // Telegram's bound; longer data is forged
		l.id, l.row, l.col, l.ours = delivery.ParseCallbackData(q.Data)
	}
	bg := context.WithoutCancel(ctx)
	go func() {
		defer close(l.done)
		if !l.ours {
			return
		}
		lctx, cancel := context.WithTimeout(bg, b.deadline)
		defer cancel()
		l.n, l.err = b.callbacks.store.Get(lctx, l.id)
	}()
	select {
	case b.callbacks.answering <- struct{}{}:
		go func() {
			defer func() { <-b.callbacks.answering }()
			b.answer(bg, q, l)
		}()
	default:
		b.answer(bg, q, l)
	}
	kind := metrics.KindCallbackQuery
	outcome, err := b.handle(context.WithValue(ctx, lookupKey{}, l), u)
	if err != nil {
		outcome = metrics.OutcomeError
	}
	b.metrics.UpdateReceived(kind, outcome)
	return err
}

// answer answers q: with the notification's toast when its record came
// within answerWait, ReplyExpired when it is unknown or expired, nothing
// otherwise (a press from another chat, data not ours, a slow store).
func (b *Handler) answer(ctx context.Context, q *telegram.CallbackQuery, l *lookup) {
	t := time.NewTimer(answerWait)
	defer t.Stop()
	text := ""
	select {
	case <-l.done:
		switch {
		case !l.ours:
		case errors.Is(l.err, store.ErrNotFound):
			text = ReplyExpired
		case l.err == nil && pressChat(q) == l.n.ChatID:
			text = l.n.CallbackAnswer
		}
	case <-t.C:
		b.log.Warn("callback query answered without its toast: the store is slow", zap.String("query_id", q.ID))
	}
	actx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	err := b.callbacks.bot.AnswerCallbackQuery(actx, telegram.AnswerCallbackQueryParams{CallbackQueryID: q.ID, Text: text})
	if err != nil {
		// A redelivered update's query was answered the first time.
		b.log.Info("answerCallbackQuery failed", zap.String("query_id", q.ID), zap.Error(err))
	}
}

// pressChat is the chat a press came from (0 when Telegram did not say).
func pressChat(q *telegram.CallbackQuery) int64 {
	if q.Message == nil {
		return 0
	}
	return q.Message.Chat.ID
}

// recordPress records the press of q (process's case for callback_query):
// once per query id, for the notification and button its data names. A
// press of an unknown or expired notification is recorded without one; a
// press from another chat than the notification's, of a button that is
// not a callback button, or with data this service did not write, is
// ignored.
func (b *Handler) recordPress(ctx context.Context, q *telegram.CallbackQuery) (string, error) {
	l, _ := ctx.Value(lookupKey{}).(*lookup)
	if l == nil || !l.ours || q.ID == "" || len(q.ID) > delivery.MaxQueryIDLen {
		return metrics.OutcomeIgnored, nil
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	p := delivery.Press{QueryID: q.ID, ChatID: pressChat(q), ButtonPress: delivery.ButtonPress{
		Username: q.From.Username, TelegramUserID: q.From.ID, At: b.now()}}
	switch {
	case errors.Is(l.err, store.ErrNotFound):
		// Recorded without a notification: the chat and the presser only.
	case l.err != nil:
		return "", l.err
	case p.ChatID != l.n.ChatID:
		b.log.Info("button press from another chat ignored", zap.String("id", l.id), zap.Int64("chat_id", p.ChatID))
		return metrics.OutcomeIgnored, nil
	default:
		btn, err := l.n.ButtonAt(l.row, l.col)
		if err != nil || btn.Callback == "" {
			return metrics.OutcomeIgnored, nil
		}
		p.NotificationID, p.UserID, p.Callback = l.n.ID, l.n.UserID, btn.Callback
	}
	recorded, err := b.callbacks.store.RecordPress(ctx, p.Bounded())
	if err != nil {
		return "", err
	}
	if !recorded {
		return metrics.OutcomeDuplicate, nil
	}
	return metrics.OutcomeProcessed, nil
}
