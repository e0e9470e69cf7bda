package delivery

import (
	"context"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Config tunes a [Dispatcher]. Zero fields take the [DefaultConfig] value.
type Config struct {
	// Workers is the number of concurrent senders in this process.
	Workers int
	// GlobalRate is the bot-wide limit in messages per second, shared by
	// all replicas (Telegram: about 30; up to 1000 with paid broadcast).
	GlobalRate float64
	// GlobalBurst is how many messages may go out back to back.
	GlobalBurst int
	// PrivateChatInterval is the minimum time between two messages to one
	// private chat (Telegram: about 1 s).
	PrivateChatInterval time.Duration
	// GroupChatInterval is the minimum time between two messages to one
	// group, supergroup or channel (negative chat ids; Telegram: 20 per
	// minute, so 3 s).
	GroupChatInterval time.Duration
	// MaxAttempts bounds the retries of temporary failures (5xx, network
	// errors, timeouts; 429s do not count) before FAILED "max_attempts".
	MaxAttempts int
	// MaxAge bounds how long a notification may wait before FAILED
	// "expired".
	MaxAge time.Duration
	// Retention is how long records and summaries are kept after their
	// last change (raised to at least MaxAge + 1h).
	Retention time.Duration
	// IdempotencyTTL is how long idempotency keys are remembered (raised to
	// at least 24h and MaxAge).
	IdempotencyTTL time.Duration
	// LeaseTimeout is the visibility timeout: a chat claimed by a worker
	// that died is taken over after it (raised to at least 3×SendTimeout).
	LeaseTimeout time.Duration
	// SendTimeout bounds one sendMessage call.
	SendTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (×2 per
	// retry, with jitter) of temporary failures.
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout is how long Run lets in-flight sends finish after its
	// context ends.
	DrainTimeout time.Duration
	// PollInterval is the longest an idle worker waits before looking at
	// the queue again (other replicas' enqueues do not wake it).
	PollInterval time.Duration
	// AllowPaidBroadcast sets allow_paid_broadcast on every sendMessage;
	// raise GlobalRate accordingly.
	AllowPaidBroadcast bool
	// MaxUserBacklog and MaxQueued, when positive, refuse Enqueue (an error
	// wrapping store.ErrBacklogFull or store.ErrQueueFull) while the user,
	// or the whole queue, has that many notifications QUEUED or SENDING
	// (NOTIFIER_MAX_USER_BACKLOG, NOTIFIER_MAX_QUEUED); 0 means no limit.
	MaxUserBacklog, MaxQueued int64
}

// DefaultConfig returns the defaults, the service's too (package config
// reads its variables over them): 16 workers, 30 msg/s with a burst of 3,
// 1 s per private chat, 3 s per group, 10 attempts, 24 h max age, 7 d
// retention, 25 h idempotency, 15 s lease, 5 s send timeout (far above
// Telegram's usual sub-second latency, short enough that a crashed
// replica's chats are taken over within 3× of it), backoff 1 s to 5 min,
// 10 s drain, 100 ms idle poll.
func DefaultConfig() Config {
	return Config{
		Workers:             16,
		GlobalRate:          30,
		GlobalBurst:         3,
		PrivateChatInterval: time.Second,
		GroupChatInterval:   3 * time.Second,
		MaxAttempts:         10,
		MaxAge:              24 * time.Hour,
		Retention:           7 * 24 * time.Hour,
		IdempotencyTTL:      25 * time.Hour,
		LeaseTimeout:        15 * time.Second,
		SendTimeout:         5 * time.Second,
		MinBackoff:          time.Second,
		MaxBackoff:          5 * time.Minute,
		DrainTimeout:        10 * time.Second,
		PollInterval:        100 * time.Millisecond,
	}
}

// Normalized returns c as [New] uses it: zero fields take the
// [DefaultConfig] value and the relations between durations hold (the
// lease at least 3×SendTimeout, retention at least MaxAge + 1h,
// idempotency at least 24h and MaxAge, MaxBackoff at least MinBackoff).
func (c Config) Normalized() Config { return c.normalized() }

// normalized fills zero fields with defaults and enforces the relations
// between durations.
func (c Config) normalized() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&c.Workers, d.Workers)
	if c.GlobalRate <= 0 {
		c.GlobalRate = d.GlobalRate
	}
	setInt(&c.GlobalBurst, 1)
	setDur(&c.PrivateChatInterval, d.PrivateChatInterval)
	setDur(&c.GroupChatInterval, d.GroupChatInterval)
	setInt(&c.MaxAttempts, d.MaxAttempts)
	setDur(&c.MaxAge, d.MaxAge)
	setDur(&c.Retention, d.Retention)
	setDur(&c.IdempotencyTTL, d.IdempotencyTTL)
	setDur(&c.LeaseTimeout, d.LeaseTimeout)
	setDur(&c.SendTimeout, d.SendTimeout)
	setDur(&c.MinBackoff, d.MinBackoff)
	setDur(&c.MaxBackoff, d.MaxBackoff)
	setDur(&c.DrainTimeout, d.DrainTimeout)
	setDur(&c.PollInterval, d.PollInterval)
	c.Retention = max(c.Retention, c.MaxAge+time.Hour)
	c.IdempotencyTTL = max(c.IdempotencyTTL, 24*time.Hour, c.MaxAge)
	c.LeaseTimeout = max(c.LeaseTimeout, 3*c.SendTimeout)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	return c
}

// Queue is the durable notification queue the dispatcher works on:
// *store.RedisQueue (from store.Redis.Queue) and *store.MemoryQueue. See
// the package documentation for the semantics.
type Queue interface {
	// Enqueue atomically records n and appends it to its chat's backlog,
	// or returns the earlier notification with duplicate true when n's
	// idempotency key was used by the same user.
	Enqueue(ctx context.Context, n store.Notification, opts store.EnqueueOptions) (store.Notification, bool, error)
	// Claim leases the due chat with the earliest schedule time (taking
	// over expired leases first); ok is false when none is due. When the
	// claim reports the user's link (store.Claim.LinkChecked) and the
	// queue has a method Links() store.Store returning the link store
	// given to [New], the dispatcher does not read the link again. When
	// the queue has a method SharesLimiter(any) bool that accepts the
	// [Limiter] given to New, the dispatcher passes the global limit in
	// opts.Limit and uses the slot the claim reserved.
	Claim(ctx context.Context, now time.Time, opts store.ClaimOptions) (c store.Claim, ok bool, err error)
	// Settle applies an outcome, releases the lease and reschedules the
	// chat; store.ErrLeaseLost when the lease was taken over.
	Settle(ctx context.Context, c store.Claim, o store.Outcome, now time.Time, retention time.Duration) error
	// SettleAndClaim is Settle followed by Claim in one atomic step (one
	// round trip per send); on ErrLeaseLost nothing is claimed.
	SettleAndClaim(ctx context.Context, c store.Claim, o store.Outcome, now time.Time, opts store.ClaimOptions) (next store.Claim, ok bool, err error)
	// Migrate moves the claimed chat's backlog to newChat.
	Migrate(ctx context.Context, c store.Claim, newChat int64, now time.Time) error
	// NextDue returns when the next chat becomes due.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// Get returns a notification or store.ErrNotFound.
	Get(ctx context.Context, id string) (store.Notification, error)
	// Summary returns the user's delivery summary.
	Summary(ctx context.Context, userID string) (store.UserSummary, error)
	// Backlog returns the number of notifications QUEUED or SENDING
	// across all chats and the CreatedAt of the oldest (zero when none).
	Backlog(ctx context.Context) (depth int64, oldest time.Time, err error)
}

// Limiter is the bot-wide rate limit and pause switch shared by all
// replicas: *store.RedisLimiter (from store.Redis.Limiter) and
// *store.MemoryLimiter.
type Limiter interface {
	// Pause stops every sender for at least d (after a 429).
	Pause(ctx context.Context, d time.Duration) error
	// Acquire returns the pause left while paused (taking no slot); else,
	// when the next slot of the named limit is more than maxWait away,
	// its wait (> maxWait, taking no slot); else it takes the slot and
	// returns how long to wait before using it (<= maxWait).
	Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error)
}

// Sender sends one Telegram message; *telegram.Client implements it.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
}
