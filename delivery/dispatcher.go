package delivery

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/telegram"
)

// globalLimit is the name of the bot-wide rate limit in the Limiter.
const globalLimit = "global"

// storeRetryMax caps the backoff of a worker while the store is down.
const storeRetryMax = 2 * time.Second

// Errors of [Dispatcher.Enqueue].
var (
	// ErrTooLong means the text is longer than one message and the
	// request's policy is LongTextReject.
	ErrTooLong = errors.New("delivery: text longer than one Telegram message")
	// ErrInvalidRequest means a required field is missing or malformed.
	ErrInvalidRequest = errors.New("delivery: invalid request")
)

// Failure reasons recorded in Notification.FailureReason.
const (
	ReasonBlocked       = "blocked"
	ReasonChatNotFound  = "chat_not_found"
	ReasonParseEntities = "parse_entities"
	ReasonNotLinked     = "not_linked"
	ReasonTooLong       = "too_long"
	ReasonMaxAttempts   = "max_attempts"
	ReasonExpired       = "expired"
	ReasonRejected      = "rejected"
	// ReasonBadMedia: Telegram could not use the media (a wrong file_id,
	// a URL it could not fetch).
	ReasonBadMedia = "bad_media"
	// ReasonTopicNotFound: the forum topic (TopicID) was gone or closed and
	// the request asked for no fallback to the group's main chat.
	ReasonTopicNotFound = "topic_not_found"
)

// LongTextPolicy says what Enqueue does with text longer than one message.
type LongTextPolicy int

// Long text policies.
const (
	// LongTextSplit (the default) sends it as several messages in order.
	LongTextSplit LongTextPolicy = iota
	// LongTextReject fails Enqueue with ErrTooLong.
	LongTextReject
)

// Request is one notification to enqueue.
type Request struct {
	// UserID is the application user; ChatID the chat they are linked to.
	UserID string
	ChatID int64
	// Text is the message; ParseMode "" (plain), "MarkdownV2", "HTML" or
	// "Markdown".
	Text      string
	ParseMode string
	// DisableNotification sends silently.
	DisableNotification bool
	// PlainTextFallback resends a part as plain text when Telegram cannot
	// parse its entities.
	PlainTextFallback bool
	// DisableLinkPreview and ProtectContent apply to every part.
	DisableLinkPreview, ProtectContent bool
	// ReplyToID, when set, makes the first part a reply to the first
	// message of that earlier notification (see Notification.ReplyToID);
	// the caller checks that it is the same user's.
	ReplyToID string
	// IdempotencyKey, when set, makes repeated requests of the same user
	// return the first notification.
	IdempotencyKey string
	// LongText is the long text policy.
	LongText LongTextPolicy
	// Media, when its Kind is set, is sent first, with the text as its
	// caption when it fits (then Text may be empty).
	Media Media
	// Buttons is the inline keyboard of the last message (the caller
	// checked Telegram's limits); CallbackAnswer the toast shown when one
	// of its callback buttons is pressed.
	Buttons        [][]Button
	CallbackAnswer string
	// TopicID, when not 0, sends into that forum topic of a group
	// (message_thread_id); NoTopicFallback fails the notification rather
	// than send it to the group's main chat when the topic is gone.
	TopicID         int64
	NoTopicFallback bool
}

// Dispatcher accepts notifications into a durable [Queue] and runs the
// workers that send them. Create it with [New]; it is safe for concurrent
// use.
type Dispatcher struct {
	cfg    Config
	q      Queue
	sender Sender
	log    *zap.Logger
	obs    atomic.Pointer[observerBox]
	now    func() time.Time

	// claimOpts are the options of every claim: the claim reads the link,
	// honours the pause and reserves the global slot (sparing a call
	// before each send).
	claimOpts ClaimOptions
	// maxWait is the longest a claimed chat waits for a global slot; a
	// slot further away is not taken (see ClaimOptions.MaxWait).
	maxWait time.Duration
	// gate is the pause and the saturated limit as this process knows
	// them (gate.go): the one route by which they reach the workers.
	gate sendGate
	// auth is whether Telegram rejects the bot token (authpause.go).
	auth authState

	wakeMu sync.Mutex
	wake   chan struct{} // closed and replaced to wake idle workers
	// wakeTaken counts the workers that took the current wake channel:
	// while none did, a signal has no one to wake and is skipped.
	wakeTaken atomic.Int64

	drained     chan struct{} // closed once Run's drain deadline has passed
	drainedOnce sync.Once
}

// New returns a dispatcher working on q; cfg's zero fields take defaults.
// The links q reads are checked before every send (an unlinked user's
// notifications fail with "not_linked"), and updated on 403 (unlink) and
// group migration.
func New(cfg Config, q Queue, sender Sender, log *zap.Logger) *Dispatcher {
	if log == nil {
		log = zap.NewNop()
	}
	d := &Dispatcher{
		cfg: cfg.normalized(), q: q, sender: sender, log: log,
		now: time.Now, wake: make(chan struct{}), drained: make(chan struct{}), gate: newSendGate(),
	}
	// A claim waits at most a second for its slot (less when the lease
	// leaves less room beside the send and a plain-text resend): at most
	// rate × 1 s slots are ever reserved ahead, and a slot is never taken
	// that its claim cannot use in time.
	d.maxWait = max(min(d.cfg.LeaseTimeout-2*d.cfg.SendTimeout, time.Second), time.Millisecond)
	d.claimOpts = ClaimOptions{Lease: d.cfg.LeaseTimeout, Retention: d.cfg.Retention, MaxAge: d.cfg.MaxAge,
		MaxWait: d.maxWait, Limit: RateLimit{Name: globalLimit, Rate: d.cfg.GlobalRate, Burst: d.cfg.GlobalBurst}}
	return d
}

// Config returns the effective configuration (defaults applied).
func (d *Dispatcher) Config() Config { return d.cfg }

// newID returns a random notification id (32 hex digits).
func newID() (string, error) {
	var b [16]byte
	if _, err := crand.Read(b[:]); err != nil {
		return "", fmt.Errorf("delivery: random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Enqueue validates r, splits its text and records it durably (record,
// backlog entry and idempotency key in one atomic step), then wakes the
// workers; it does not wait for Telegram. With an IdempotencyKey already
// used by r.UserID it returns the earlier notification and duplicate true
// and writes nothing. Errors: ErrInvalidRequest, ErrInvalidText,
// ErrCannotSplit, ErrTooLong (policy LongTextReject), and
// ErrUnavailable when the queue cannot record it (nothing was
// accepted).
func (d *Dispatcher) Enqueue(ctx context.Context, r Request) (Notification, bool, error) {
	if r.UserID != "" && r.ChatID == 0 {
		return Notification{}, false, fmt.Errorf("%w: chat id is zero", ErrInvalidRequest)
	}
	return d.enqueue(ctx, r, false)
}

// EnqueueLinked is Enqueue to the chat r.UserID is linked to (r.ChatID is
// ignored), the link read by the queue in the same atomic step. It fails
// with ErrNotLinked when the user is not linked (before the idempotency
// key is looked at).
func (d *Dispatcher) EnqueueLinked(ctx context.Context, r Request) (Notification, bool, error) {
	return d.enqueue(ctx, r, true)
}

// enqueue is Enqueue, or with linked EnqueueLinked.
func (d *Dispatcher) enqueue(ctx context.Context, r Request, linked bool) (Notification, bool, error) {
	switch {
	case r.UserID == "":
		return Notification{}, false, fmt.Errorf("%w: user id is empty", ErrInvalidRequest)
	case strings.TrimSpace(r.Text) == "" && r.Media.Kind == MediaNone:
		return Notification{}, false, fmt.Errorf("%w: text is empty", ErrInvalidRequest)
	case !telegram.ValidParseMode(r.ParseMode):
		return Notification{}, false, fmt.Errorf("%w: parse mode %q", ErrInvalidRequest, r.ParseMode)
	}
	if err := CheckButtons(r.Buttons); err != nil {
		return Notification{}, false, err
	}
	if utf8.RuneCountInString(r.CallbackAnswer) > MaxCallbackAnswer {
		return Notification{}, false, fmt.Errorf("%w: callback answer over %d characters", ErrInvalidRequest, MaxCallbackAnswer)
	}
	parts, err := planParts(r.Text, r.ParseMode, r.Media.Kind != MediaNone, r.TopicID != 0)
	if err != nil {
		return Notification{}, false, err
	}
	if textParts(parts, r.Media.Kind != MediaNone) > 1 && r.LongText == LongTextReject {
		limit := telegram.MaxMessageLen
		if r.TopicID != 0 { // room for the topic fallback's note
			limit -= TopicNoteMaxLen
		}
		return Notification{}, false, fmt.Errorf("%w (%d UTF-16 units max)", ErrTooLong, limit)
	}
	id, err := newID()
	if err != nil {
		return Notification{}, false, err
	}
	n := Notification{
		ID: id, UserID: r.UserID, ChatID: r.ChatID, Parts: parts, ParseMode: r.ParseMode,
		DisableNotification: r.DisableNotification, PlainTextFallback: r.PlainTextFallback,
		DisableLinkPreview: r.DisableLinkPreview, ProtectContent: r.ProtectContent, ReplyToID: r.ReplyToID,
		IdempotencyKey: r.IdempotencyKey, CreatedAt: d.now(), Media: r.Media,
		Buttons: CloneButtons(r.Buttons), CallbackAnswer: r.CallbackAnswer,
		TopicID: r.TopicID, NoTopicFallback: r.NoTopicFallback,
	}
	opts := EnqueueOptions{Retention: d.cfg.Retention, IdempotencyTTL: d.cfg.IdempotencyTTL,
		MaxUserBacklog: d.cfg.MaxUserBacklog, MaxQueued: d.cfg.MaxQueued}
	var (
		got Notification
		dup bool
	)
	if linked {
		got, dup, err = d.q.EnqueueLinked(ctx, n, opts)
	} else {
		got, dup, err = d.q.Enqueue(ctx, n, opts)
	}
	if err != nil {
		return Notification{}, false, fmt.Errorf("delivery: enqueue: %w", err)
	}
	if dup {
		d.observer().Duplicate()
		return got, true, nil
	}
	d.observer().Accepted()
	d.signal()
	return got, false, nil
}

// Get returns the notification id or the queue's error (store.ErrNotFound when unknown).
func (d *Dispatcher) Get(ctx context.Context, id string) (Notification, error) {
	n, err := d.q.Get(ctx, id)
	if err != nil {
		return Notification{}, fmt.Errorf("delivery: get %q: %w", id, err)
	}
	return n, nil
}

// Summary returns the user's delivery summary.
func (d *Dispatcher) Summary(ctx context.Context, userID string) (UserSummary, error) {
	s, err := d.q.Summary(ctx, userID)
	if err != nil {
		return UserSummary{}, fmt.Errorf("delivery: summary of %q: %w", userID, err)
	}
	return s, nil
}

// Backlog returns the number of notifications QUEUED or SENDING in the
// queue (all replicas, all chats) and the CreatedAt of the oldest of them
// (zero when none), for the queue depth and age gauges.
func (d *Dispatcher) Backlog(ctx context.Context) (depth int64, oldest time.Time, err error) {
	depth, oldest, err = d.q.Backlog(ctx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("delivery: backlog: %w", err)
	}
	return depth, oldest, nil
}

// signal wakes every idle worker of this process.
// A worker takes the channel before it claims, so work enqueued after a
// skipped signal is seen by its claim.
func (d *Dispatcher) signal() {
	if d.wakeTaken.Load() == 0 {
		return
	}
	d.wakeMu.Lock()
	if d.wakeTaken.Load() > 0 {
		close(d.wake)
		d.wake = make(chan struct{})
		d.wakeTaken.Store(0)
	}
	d.wakeMu.Unlock()
}

// wakeChan returns the channel the next signal closes.
func (d *Dispatcher) wakeChan() <-chan struct{} {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	d.wakeTaken.Add(1)
	return d.wake
}

// Run runs the workers until ctx ends, then drains: workers stop claiming,
// in-flight sends get up to Config.DrainTimeout to finish and be recorded,
// and work not finished by then is released (its lease given back) so that
// another replica or the next start picks it up. Run returns nil after a
// drain.
func (d *Dispatcher) Run(ctx context.Context) error {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.cfg.DrainTimeout, cancelHard)
		context.AfterFunc(hard, func() { t.Stop() })
	})
	defer stop()
	stopDrained := context.AfterFunc(hard, func() { d.drainedOnce.Do(func() { close(d.drained) }) })
	defer stopDrained()
	var wg sync.WaitGroup
	for i := range d.cfg.Workers {
		wg.Go(func() { d.worker(ctx, hard, i) })
	}
	wg.Wait()
	return nil
}

// chatInterval is the per-chat spacing for chat.
func (d *Dispatcher) chatInterval(chat int64) time.Duration {
	if chat < 0 {
		return d.cfg.GroupChatInterval
	}
	return d.cfg.PrivateChatInterval
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
