package delivery

import "time"

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
	// PaidBroadcastRate is the rate of the sends of paid broadcasts
	// (Notification.PaidBroadcast), a limit of their own beside the
	// global one (NOTIFIER_PAID_BROADCAST_RATE; 0: paid broadcasts off).
	PaidBroadcastRate float64
	// MaxUserBacklog and MaxQueued, when positive, refuse Enqueue (an error
	// wrapping ErrBacklogFull or ErrQueueFull) while the user,
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
