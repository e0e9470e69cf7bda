package delivery

import (
	"context"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// Queue is what the dispatcher needs from storage: the durable
// notification queue, together with the users' links and the global rate
// limit that its enqueues and claims read in the same atomic steps.
// *store.RedisQueue (store.Redis.Queue) and *store.MemoryQueue
// (store.Memory.Queue) implement it with the same semantics; the store
// package's contract suites run over both. See the package documentation.
type Queue interface {
	// Enqueue atomically records n and appends it to its chat's backlog
	// (a reply at its head), or returns the earlier notification with
	// duplicate true when n's idempotency key was used by the same user.
	// Admission limits fail with ErrBacklogFull or ErrQueueFull.
	Enqueue(ctx context.Context, n Notification, opts EnqueueOptions) (Notification, bool, error)
	// EnqueueLinked is Enqueue to the chat n.UserID is linked to, read in
	// the same atomic step (n.ChatID is ignored; the result carries the
	// chat). It fails with ErrNotLinked, writing nothing, when the user
	// is not linked (before the idempotency key is looked at).
	EnqueueLinked(ctx context.Context, n Notification, opts EnqueueOptions) (Notification, bool, error)
	// Claim leases the due chat with the earliest schedule time (taking
	// over expired leases first); ok is false when none is due. In the
	// same step it reads the user's link (Claim.LinkedChat) and, given
	// opts.Limit, honours the global pause (Claim.Paused), claims nothing
	// when no slot is near enough (Claim.Throttled) and reserves a slot
	// for a notification that will be sent (Claim.Reserved, Claim.Wait).
	Claim(ctx context.Context, now time.Time, opts ClaimOptions) (c Claim, ok bool, err error)
	// Settle applies an outcome, releases the lease and reschedules the
	// chat; ErrLeaseLost when the lease was taken over.
	Settle(ctx context.Context, c Claim, o Outcome, now time.Time, retention time.Duration) error
	// SettleAndClaim is Settle followed by Claim in one atomic step (one
	// round trip per send); on ErrLeaseLost nothing is claimed.
	SettleAndClaim(ctx context.Context, c Claim, o Outcome, now time.Time, opts ClaimOptions) (next Claim, ok bool, err error)
	// Migrate moves the claimed chat's links and whole backlog to newChat
	// (a group became a supergroup) in one step and releases the lease.
	Migrate(ctx context.Context, c Claim, newChat int64, now time.Time) error
	// NextDue returns when the next chat becomes due.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// Get returns a notification, or an error when it is unknown.
	Get(ctx context.Context, id string) (Notification, error)
	// Summary returns the user's delivery summary.
	Summary(ctx context.Context, userID string) (UserSummary, error)
	// Backlog returns the number of notifications QUEUED or SENDING
	// across all chats and the CreatedAt of the oldest (zero when none).
	Backlog(ctx context.Context) (depth int64, oldest time.Time, err error)

	Links
	Limiter
	Editor
}

// Links is the change to the users' links that a send's answer causes
// (a group's migration moves links with Queue.Migrate).
type Links interface {
	// UnlinkBlocked removes userID's link while it points at chatID (the
	// chat answered 403: the user blocked the bot); nil, changing nothing,
	// when it does not.
	UnlinkBlocked(ctx context.Context, userID string, chatID int64) error
}

// Limiter is the bot-wide rate limit and pause switch shared by all
// replicas, in the budget that Queue's claims reserve in.
type Limiter interface {
	// Pause stops every sender for at least d (after a 429).
	Pause(ctx context.Context, d time.Duration) error
	// Acquire returns the pause left while paused (taking no slot); else,
	// when the next slot of the named limit is more than maxWait away,
	// its wait (> maxWait, taking no slot); else it takes the slot and
	// returns how long to wait before using it (<= maxWait).
	Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error)
}

// Sender sends one Telegram message (text, photo or document), edits and
// deletes sent ones; *telegram.Client implements it.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
	SendPhoto(ctx context.Context, p telegram.SendPhotoParams) (telegram.Message, error)
	SendDocument(ctx context.Context, p telegram.SendDocumentParams) (telegram.Message, error)
	EditMessageText(ctx context.Context, p telegram.EditMessageTextParams) error
	EditMessageCaption(ctx context.Context, p telegram.EditMessageCaptionParams) error
	EditMessageReplyMarkup(ctx context.Context, p telegram.EditMessageReplyMarkupParams) error
	DeleteMessages(ctx context.Context, chatID int64, messageIDs []int64) error
}
