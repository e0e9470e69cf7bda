package delivery

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// IdempotencyKey, when set, makes repeated requests of the same user
	// return the first notification.
	IdempotencyKey string
	// LongText is the long text policy.
	LongText LongTextPolicy
}

// Dispatcher accepts notifications into a durable [Queue] and runs the
// workers that send them. Create it with [New]; it is safe for concurrent
// use.
type Dispatcher struct {
	cfg    Config
	q      Queue
	sender Sender
	log    *zap.Logger
	stats  statsCounters
	obs    atomic.Pointer[observerBox]
	now    func() time.Time

	// claimOpts are the options of every claim: the claim reads the link,
	// honours the pause and reserves the global slot (sparing a call
	// before each send).
	claimOpts ClaimOptions
	// pausedUntil (unix ns) is the end of the latest global pause this
	// process saw; workers do not claim before it.
	pausedUntil atomic.Int64
	// maxWait is the longest a claimed chat waits for a global slot; a
	// slot further away is not taken (see ClaimOptions.MaxWait).
	maxWait time.Duration
	// throttledUntil (unix ns) is when, by the latest answer of the
	// limit, a slot within maxWait may be had. While it lies ahead the
	// workers of this process claim one at a time through slotGate, so a
	// saturated limit costs one claim per slot, not one per worker.
	throttledUntil atomic.Int64
	slotGate       chan struct{}
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
		now: time.Now, wake: make(chan struct{}), drained: make(chan struct{}), slotGate: make(chan struct{}, 1),
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
	case strings.TrimSpace(r.Text) == "":
		return Notification{}, false, fmt.Errorf("%w: text is empty", ErrInvalidRequest)
	case !telegram.ValidParseMode(r.ParseMode):
		return Notification{}, false, fmt.Errorf("%w: parse mode %q", ErrInvalidRequest, r.ParseMode)
	}
	parts, err := Split(r.Text, r.ParseMode, telegram.MaxMessageLen)
	if err != nil {
		return Notification{}, false, err
	}
	if len(parts) > 1 && r.LongText == LongTextReject {
		return Notification{}, false, fmt.Errorf("%w (%d UTF-16 units max)", ErrTooLong, telegram.MaxMessageLen)
	}
	id, err := newID()
	if err != nil {
		return Notification{}, false, err
	}
	n := Notification{
		ID: id, UserID: r.UserID, ChatID: r.ChatID, Parts: parts, ParseMode: r.ParseMode,
		DisableNotification: r.DisableNotification, PlainTextFallback: r.PlainTextFallback,
		IdempotencyKey: r.IdempotencyKey, CreatedAt: d.now(),
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
		d.stats.duplicates.Add(1)
		return got, true, nil
	}
	d.stats.enqueued.Add(1)
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

// sleep waits for dur or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, dur time.Duration) bool {
	if dur <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// rateLimited counts a 429 and pauses all sends for ra, here at once and
// for every replica through the limiter.
func (d *Dispatcher) rateLimited(ctx context.Context, log *zap.Logger, ra time.Duration) {
	d.stats.rateLimited.Add(1)
	d.observer().RateLimited(ra)
	log.Warn("delivery: 429 from Telegram; pausing all sends", zap.Duration("retry_after", ra))
	d.notePause(ra)
	if err := d.q.Pause(ctx, ra); err != nil {
		log.Warn("delivery: cannot record the global pause", zap.Error(err))
	}
}

// notePause records that every send is paused for p from now.
func (d *Dispatcher) notePause(p time.Duration) {
	until := d.now().Add(p).UnixNano()
	for {
		cur := d.pausedUntil.Load()
		if until <= cur || d.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// localPause returns how long the latest pause this process saw still
// lasts.
func (d *Dispatcher) localPause() time.Duration {
	return max(time.Duration(d.pausedUntil.Load()-d.now().UnixNano()), 0)
}

// mayClaim reports whether a worker may take new work now: ctx is live,
// no pause is known and the limit is not known to be saturated.
func (d *Dispatcher) mayClaim(ctx context.Context) bool {
	return ctx.Err() == nil && d.localPause() <= 0 && d.localThrottle() <= 0
}

// noteThrottle records that the global limit has no slot within maxWait
// for t from now.
func (d *Dispatcher) noteThrottle(t time.Duration) {
	d.throttledUntil.Store(d.now().Add(t).UnixNano())
}

// localThrottle returns how long, by the latest answer of the limit, no
// slot may be had within maxWait.
func (d *Dispatcher) localThrottle() time.Duration {
	return max(time.Duration(d.throttledUntil.Load()-d.now().UnixNano()), 0)
}

// claim claims the next due chat. While the limit is saturated the
// workers of this process claim one at a time: each waits for the gate,
// then until the latest throttle ends, then claims, so that a saturated
// limit is asked once per slot and not by every worker at once.
func (d *Dispatcher) claim(ctx context.Context) (Claim, bool, error) {
	if d.localThrottle() > 0 {
		select {
		case d.slotGate <- struct{}{}:
		case <-ctx.Done():
			return Claim{}, false, ctx.Err()
		}
		defer func() { <-d.slotGate }()
		if !sleep(ctx, d.localThrottle()) {
			return Claim{}, false, ctx.Err()
		}
	}
	return d.q.Claim(ctx, d.now(), d.claimOpts)
}

// worker claims and sends until ctx ends. hard outlives ctx by the drain
// timeout and carries the in-flight work. Settling a claim usually claims
// the next chat in the same store call, so the loop only calls Claim when
// it has nothing in hand.
func (d *Dispatcher) worker(ctx, hard context.Context, id int) {
	log := d.log.With(zap.Int("worker", id))
	storeBackoff := time.Duration(0)
	storeDown := func(op string, err error) bool {
		if storeBackoff == 0 {
			log.Warn("delivery: store unavailable, backing off", zap.String("op", op), zap.Error(err))
		}
		storeBackoff = min(max(2*storeBackoff, 50*time.Millisecond), storeRetryMax)
		return sleep(ctx, jitter(storeBackoff))
	}
	var (
		c    Claim
		have bool
	)
	defer func() {
		if have { // claimed while settling just as ctx ended: hand it back
			d.release(log, c, d.now(), 0, "")
		}
	}()
	for ctx.Err() == nil {
		if !have {
			if p := d.localPause(); p > 0 {
				if !sleep(ctx, p) {
					return
				}
				continue
			}
			wake := d.wakeChan()
			var err error
			c, have, err = d.claim(ctx)
			if err != nil {
				have = false
				if ctx.Err() != nil {
					return
				}
				if !storeDown("claim", err) {
					return
				}
				continue
			}
			if storeBackoff > 0 {
				log.Info("delivery: store available again")
				storeBackoff = 0
			}
			if !have {
				switch {
				case c.Paused > 0:
					d.notePause(c.Paused)
				case c.Throttled > 0:
					d.noteThrottle(c.Throttled)
				default:
					d.idle(ctx, wake)
				}
				continue
			}
		}
		c, have = d.process(ctx, hard, log, c)
		if !have { // settled, then found the pause or the limit saturated
			if c.Paused > 0 {
				d.notePause(c.Paused)
			}
			if c.Throttled > 0 {
				d.noteThrottle(c.Throttled)
			}
		}
	}
}

// idle waits until the next chat is due, a local enqueue, or at most
// PollInterval.
func (d *Dispatcher) idle(ctx context.Context, wake <-chan struct{}) {
	wait := d.cfg.PollInterval
	if at, ok, err := d.q.NextDue(ctx); err == nil && ok {
		wait = min(wait, max(at.Sub(d.now()), time.Millisecond))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
	}
}

// jitter returns a duration uniformly in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// chatInterval is the per-chat spacing for chat.
func (d *Dispatcher) chatInterval(chat int64) time.Duration {
	if chat < 0 {
		return d.cfg.GroupChatInterval
	}
	return d.cfg.PrivateChatInterval
}

// settleTimeout bounds one attempt to record an outcome.
const settleTimeout = 5 * time.Second

// settle records o, retrying while the store is down until the lease would
// have expired (after which another worker owns the chat anyway) or Run's
// drain deadline has passed (shutdown must not outlast it; the lease then
// lapses and the chat is taken over). It tries at least once, even after
// the drain deadline, so that unfinished work is handed back.
// With next, the first attempt also claims the next due chat in the same
// store call and returns it (ok true); retries never claim.
func (d *Dispatcher) settle(log *zap.Logger, c Claim, o Outcome, next bool) (Claim, bool) {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		var (
			nc  Claim
			ok  bool
			err error
		)
		if next {
			nc, ok, err = d.q.SettleAndClaim(ctx, c, o, d.now(), d.claimOpts)
		} else {
			err = d.q.Settle(ctx, c, o, d.now(), d.cfg.Retention)
		}
		cancel()
		if err == nil {
			return nc, ok // nc.Paused may be set when !ok
		}
		next = false
		if errors.Is(err, ErrLeaseLost) {
			d.stats.leaseLost.Add(1)
			log.Warn("delivery: lease lost before settling; another worker took the chat over",
				zap.Int64("chat", c.ChatID), zap.String("id", c.Notification.ID))
			return Claim{}, false
		}
		select {
		case <-d.drained:
		default:
			if d.now().Add(backoff).Before(c.LeaseUntil) {
				t := time.NewTimer(jitter(backoff)) // bounded by the lease and the drain
				select {
				case <-t.C:
				case <-d.drained: // one last attempt, then give up
				}
				t.Stop()
				backoff = min(2*backoff, storeRetryMax)
				continue
			}
		}
		log.Error("delivery: cannot record outcome; the notification will be retried after the lease expires",
			zap.Int64("chat", c.ChatID), zap.String("id", c.Notification.ID), zap.Error(err))
		return Claim{}, false
	}
}

// release gives the claim back, schedulable at at.
func (d *Dispatcher) release(log *zap.Logger, c Claim, at time.Time, attempts int, lastErr string) {
	d.stats.released.Add(1)
	d.settle(log, c, Outcome{Kind: OutcomeRelease, NextAt: at, Attempts: attempts, LastError: lastErr}, false)
}

// fail settles c as FAILED and returns the next claim, if it took one.
func (d *Dispatcher) fail(ctx context.Context, log *zap.Logger, c Claim, reason, lastErr string, attempts int) (Claim, bool) {
	d.stats.fail(reason)
	if c.Notification.Reply {
		d.observer().Reply(ReplyFailed)
	} else {
		d.observer().Finished(FinishedFailed, reason)
	}
	log.Info("delivery: notification failed", zap.String("id", c.Notification.ID), zap.Int64("chat", c.ChatID),
		zap.String("reason", reason), zap.String("error", lastErr))
	return d.settle(log, c, Outcome{Kind: OutcomeFail, Reason: reason, LastError: lastErr,
		Attempts: attempts, NextAt: d.now()}, d.mayClaim(ctx))
}

// process handles one claim: checks, rate limits, one part sent (or a
// failure handled), outcome recorded. It returns the next claim when
// recording the outcome took one.
func (d *Dispatcher) process(ctx, hard context.Context, log *zap.Logger, c Claim) (Claim, bool) {
	n := c.Notification
	now := d.now()
	if now.Sub(n.CreatedAt) >= d.cfg.MaxAge {
		return d.fail(ctx, log, c, ReasonExpired, orDefault(n.LastError, "not delivered within max age"), 0)
	}
	if n.NextPart >= len(n.Parts) { // cannot happen: settling the last part makes it SENT
		return d.fail(ctx, log, c, ReasonRejected, "corrupt record: no part left to send", 0)
	}
	switch { // a reply goes to its chat, linked or not
	case !n.Reply && c.LinkedChat == 0:
		return d.fail(ctx, log, c, ReasonNotLinked, "user is not linked to a Telegram chat", 0)
	case !n.Reply && c.LinkedChat != c.ChatID:
		return d.fail(ctx, log, c, ReasonNotLinked, "user is now linked to another chat", 0)
	}
	text, mode := n.Parts[n.NextPart], n.ParseMode
	attempts := 0
	for {
		if !d.waitToSend(ctx, log, c, attempts) {
			return Claim{}, false
		}
		attempts++
		msg, err := d.send(hard, c.ChatID, text, mode, n.DisableNotification)
		if err == nil {
			return d.partSent(ctx, log, c, msg.MessageID, attempts)
		}
		if telegram.IsParseEntities(err) && mode != "" && n.PlainTextFallback {
			d.stats.fallbacks.Add(1)
			log.Info("delivery: can't parse entities; resending as plain text", zap.String("id", n.ID), zap.Error(err))
			mode = ""
			continue
		}
		return d.handleError(ctx, hard, log, c, err, attempts)
	}
}

// waitToSend honours the global pause and takes a global rate slot: the
// one the claim reserved for the first attempt, else one from the
// limiter, within what the lease leaves. It releases the claim and
// returns false when paused, when no slot can be had in time (none is
// taken then: the chat is due again when one may be, and the workers wait
// for the limit through claim), or when ctx ends.
func (d *Dispatcher) waitToSend(ctx context.Context, log *zap.Logger, c Claim, attempts int) bool {
	reserved := attempts == 0 && c.Reserved
	for try := 0; ; try++ {
		if p := d.localPause(); p > 0 {
			d.release(log, c, d.now().Add(p), attempts, "")
			return false
		}
		wait := c.Wait // counted from the claim's answer, like Acquire's: never early
		if !reserved {
			var ok bool
			if wait, ok = d.acquireSlot(ctx, log, c, attempts); !ok {
				return false
			}
		}
		slotAt := d.now().Add(wait)
		if !sleep(ctx, wait) {
			d.release(log, c, d.now(), attempts, "")
			return false
		}
		// A worker that wakes late (a loaded machine, a slow store) would
		// send its slot together with the later ones, and Telegram counts
		// arrivals, not slots: once, it takes a fresh slot instead.
		if d.now().Sub(slotAt) > staleSlot && try == 0 {
			reserved = false
			continue
		}
		if p := d.localPause(); p > 0 { // a 429 while waiting: the slot is lost, the pause kept
			d.release(log, c, d.now().Add(p), attempts, "")
			return false
		}
		return true
	}
}

// staleSlot is how late a worker may wake for its slot and still use it.
const staleSlot = 100 * time.Millisecond

// acquireSlot takes a global slot within what c's lease leaves beside the
// send and a plain-text resend. It releases c and returns false when the
// store fails, a pause is in force or no slot is near enough (none is
// taken then; the workers wait for the limit through claim).
func (d *Dispatcher) acquireSlot(ctx context.Context, log *zap.Logger, c Claim, attempts int) (time.Duration, bool) {
	maxWait := max(min(c.LeaseUntil.Sub(d.now())-2*d.cfg.SendTimeout, d.maxWait), 0)
	wait, paused, err := d.q.Acquire(ctx, globalLimit, d.cfg.GlobalRate, d.cfg.GlobalBurst, maxWait)
	switch {
	case err != nil:
		d.release(log, c, d.now().Add(d.cfg.MinBackoff), attempts, "")
		return 0, false
	case paused > 0: // another replica's 429: this process waits too
		d.notePause(paused)
		d.release(log, c, d.now().Add(paused), attempts, "")
		return 0, false
	case wait > maxWait: // no slot taken
		d.noteThrottle(wait - maxWait)
		d.release(log, c, d.now().Add(wait-maxWait), attempts, "")
		return 0, false
	}
	return wait, true
}

// send calls sendMessage bounded by SendTimeout.
func (d *Dispatcher) send(hard context.Context, chat int64, text, mode string, silent bool) (telegram.Message, error) {
	ctx, cancel := context.WithTimeout(hard, d.cfg.SendTimeout)
	defer cancel()
	return d.sender.SendMessage(ctx, telegram.SendMessageParams{
		ChatID: chat, Text: text, ParseMode: mode, DisableNotification: silent,
		AllowPaidBroadcast: d.cfg.AllowPaidBroadcast,
	})
}

// partSent records a sent part and returns the next claim, if it took one.
func (d *Dispatcher) partSent(ctx context.Context, log *zap.Logger, c Claim, msgID int64, attempts int) (Claim, bool) {
	n := c.Notification
	d.authOK(log)
	d.stats.partsSent.Add(1)
	if n.NextPart+1 >= len(n.Parts) {
		d.stats.sent.Add(1)
		if n.Reply {
			d.observer().Reply(ReplySent)
		} else {
			d.observer().Finished(FinishedSent, "")
		}
	}
	return d.settle(log, c, Outcome{Kind: OutcomePartSent, MessageID: msgID, Attempts: attempts,
		NextAt: d.now().Add(d.chatInterval(c.ChatID))}, d.mayClaim(ctx))
}

// ambiguous reports whether a failed send may nevertheless have reached
// Telegram: a timeout or a connection cut after the request was written.
func ambiguous(err error) bool {
	var te *telegram.Error
	if errors.As(err, &te) {
		return false
	}
	var he *telegram.HTTPError
	if errors.As(err, &he) { // a proxy's page: 502/504 may come after it forwarded the request
		return he.StatusCode == 502 || he.StatusCode == 504
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && ne.Timeout()) || strings.Contains(msg, "reset") || strings.Contains(msg, "timeout")
}

// handleError classifies a failed send, records what follows and returns
// the next claim, if recording took one.
func (d *Dispatcher) handleError(ctx, hard context.Context, log *zap.Logger, c Claim, err error, attempts int) (Claim, bool) {
	n := c.Notification
	desc := err.Error()
	var te *telegram.Error
	if errors.As(err, &te) {
		desc = te.Description
	}
	if telegram.IsAuthFailure(err) { // the bot is rejected, not the chat: pause and retry
		return d.settle(log, c, Outcome{Kind: OutcomeRetry, Attempts: attempts, LastError: desc,
			NextAt: d.authFailed(log, err)}, d.mayClaim(ctx))
	}
	if ra, ok := telegram.RetryAfter(err); ok {
		d.rateLimited(hard, log, ra)
		return d.settle(log, c, Outcome{Kind: OutcomeRetry, Attempts: attempts, LastError: desc,
			NextAt: d.now().Add(ra)}, d.mayClaim(ctx))
	}
	if newChat, ok := telegram.MigratedTo(err); ok {
		d.migrate(hard, log, c, newChat, attempts)
		return Claim{}, false
	}
	switch {
	case telegram.IsBlocked(err):
		// A reply's chat is unlinked by the my_chat_member update that
		// comes with the block.
		if !n.Reply {
			if uerr := d.q.UnlinkBlocked(hard, n.UserID, c.ChatID); uerr != nil {
				log.Warn("delivery: cannot unlink blocked user", zap.String("user", n.UserID), zap.Error(uerr))
			}
		}
		return d.fail(ctx, log, c, ReasonBlocked, desc, attempts)
	case telegram.IsChatNotFound(err):
		return d.fail(ctx, log, c, ReasonChatNotFound, desc, attempts)
	case telegram.IsParseEntities(err):
		return d.fail(ctx, log, c, ReasonParseEntities, desc, attempts)
	case telegram.IsTooLong(err):
		return d.fail(ctx, log, c, ReasonTooLong, desc, attempts)
	}
	if !telegram.IsTemporary(err) && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return d.fail(ctx, log, c, ReasonRejected, desc, attempts)
	}
	if ambiguous(err) {
		d.stats.ambiguous.Add(1)
		d.observer().Ambiguous()
		log.Warn("delivery: send outcome unknown; retrying (a duplicate is possible)",
			zap.String("id", n.ID), zap.Int64("chat", c.ChatID), zap.Error(err))
	}
	if hard.Err() != nil { // shutdown cut the send: give the work back untouched
		d.release(log, c, d.now(), attempts, desc)
		return Claim{}, false
	}
	retries := n.Retries + 1
	if retries >= d.cfg.MaxAttempts {
		return d.fail(ctx, log, c, ReasonMaxAttempts, desc, attempts)
	}
	backoff := d.cfg.MinBackoff << min(n.Retries, 30)
	if backoff <= 0 || backoff > d.cfg.MaxBackoff {
		backoff = d.cfg.MaxBackoff
	}
	next := d.now().Add(jitter(backoff))
	if next.Sub(n.CreatedAt) >= d.cfg.MaxAge {
		return d.fail(ctx, log, c, ReasonExpired, desc, attempts)
	}
	d.stats.retries.Add(1)
	return d.settle(log, c, Outcome{Kind: OutcomeRetry, Attempts: attempts, Retries: 1,
		LastError: desc, NextAt: next}, d.mayClaim(ctx))
}

// migrate moves the links and the chat's backlog to the supergroup newChat
// in one step; the head is resent there.
func (d *Dispatcher) migrate(hard context.Context, log *zap.Logger, c Claim, newChat int64, attempts int) {
	d.stats.migrated.Add(1)
	log.Info("delivery: group migrated to a supergroup", zap.Int64("from", c.ChatID), zap.Int64("to", newChat))
	backoff := 50 * time.Millisecond
	for {
		err := d.q.Migrate(hard, c, newChat, d.now())
		if err == nil {
			break
		}
		if errors.Is(err, ErrLeaseLost) || !d.now().Add(backoff).Before(c.LeaseUntil) || hard.Err() != nil {
			// Nothing moved (the links move with the backlog): the head is
			// sent to the old chat again and answered with the migration
			// again. Rare (a store outage); logged loudly.
			log.Error("delivery: cannot move the backlog to the supergroup", zap.Int64("from", c.ChatID),
				zap.Int64("to", newChat), zap.Error(err))
			d.release(log, c, d.now().Add(d.cfg.MinBackoff), attempts, err.Error())
			return
		}
		time.Sleep(jitter(backoff)) // bounded by the lease; not synchronisation
		backoff = min(2*backoff, storeRetryMax)
	}
	d.signal()
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
