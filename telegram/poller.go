package telegram

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/retry"
)

// Defaults of a [Poller].
const (
	DefaultPollTimeout = 30 * time.Second
	DefaultPollLimit   = 100
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// offsetSaveTimeout bounds saving the offset after the update was handled;
// the save runs even when Run's context was just cancelled.
const offsetSaveTimeout = 5 * time.Second

// OffsetStore persists the getUpdates offset so that a restarted poller
// neither replays nor skips updates. store.Store satisfies it.
type OffsetStore interface {
	// PollOffset returns the saved offset (0 when none).
	PollOffset(ctx context.Context) (int64, error)
	// SetPollOffset saves the offset: the last handled update_id plus one.
	SetPollOffset(ctx context.Context, offset int64) error
}

// PollerOption configures a [Poller].
type PollerOption func(*Poller)

// WithPollTimeout sets the long-poll timeout of each getUpdates (default
// [DefaultPollTimeout]); it is rounded up to whole seconds, at least one, so
// that an idle poller never spins.
func WithPollTimeout(d time.Duration) PollerOption {
	return func(p *Poller) {
		p.timeout = max(1, int((d+time.Second-1)/time.Second))
	}
}

// WithPollLimit sets how many updates one getUpdates may return (1–100,
// default [DefaultPollLimit]).
func WithPollLimit(n int) PollerOption {
	return func(p *Poller) {
		if n >= 1 && n <= 100 {
			p.limit = n
		}
	}
}

// WithAllowedUpdates sets the update kinds to receive (for example
// "message", "my_chat_member"); with no kinds, Telegram's default set.
// Without this option, Telegram keeps the previous setting.
func WithAllowedUpdates(kinds ...string) PollerOption {
	return func(p *Poller) {
		p.allowed = append([]string{}, kinds...)
	}
}

// WithBackoff sets the bounds of the exponential backoff (with jitter)
// after failures (default [DefaultMinBackoff] to [DefaultMaxBackoff]).
func WithBackoff(minWait, maxWait time.Duration) PollerOption {
	return func(p *Poller) {
		if minWait > 0 && maxWait >= minWait {
			p.minBackoff, p.maxBackoff = minWait, maxWait
		}
	}
}

// WithAuthReport makes the poller call report with Telegram's answer each
// time getUpdates fails with an auth failure ([IsAuthFailure]: the token
// was revoked, or the base URL is wrong), and with nil at the first
// getUpdates that succeeds after one, so that the caller can show the bot
// as not ready meanwhile. report must be fast and safe for concurrent use.
func WithAuthReport(report func(err error)) PollerOption {
	return func(p *Poller) { p.report = report }
}

// Poller receives updates by long polling (getUpdates) and hands them, in
// order, to an [UpdateHandler]. Only one poller per bot token may run, and
// not while a webhook is set: call [Client.DeleteWebhook] first.
type Poller struct {
	c       *Client
	offsets OffsetStore
	h       UpdateHandler
	log     *zap.Logger

	timeout    int // seconds
	limit      int
	allowed    []string
	minBackoff time.Duration
	maxBackoff time.Duration
	report     func(err error) // WithAuthReport; may be nil
}

// NewPoller returns a poller that fetches updates with c, handles them with
// h and keeps its offset in offsets. A nil logger logs nothing.
func NewPoller(c *Client, offsets OffsetStore, h UpdateHandler, logger *zap.Logger, opts ...PollerOption) *Poller {
	if logger == nil {
		logger = zap.NewNop()
	}
	p := &Poller{
		c:          c,
		offsets:    offsets,
		h:          h,
		log:        logger,
		timeout:    int(DefaultPollTimeout / time.Second),
		limit:      DefaultPollLimit,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Run polls until ctx is cancelled, then returns nil.
//
// It starts from the offset in the store, handles each update in order and
// saves update_id+1 after each one. When the handler fails it stops the
// batch, waits, and fetches again from that update, so nothing is skipped
// (a handler that always fails therefore blocks the queue: return errors
// for transient failures only). getUpdates failures are retried with an
// exponential backoff with jitter; a 429 waits retry_after; a 409 (webhook
// set, or another instance polling) is logged with an explanation and
// retried with backoff. An auth failure ([IsAuthFailure]: a revoked token,
// a wrong base URL) is logged at Error level once, reported (see
// [WithAuthReport]) and retried with backoff too, so that polling resumes
// by itself once the token works again. Run always returns nil.
func (p *Poller) Run(ctx context.Context) error {
	bo := retry.New(p.minBackoff, p.maxBackoff)
	offset, ok := p.loadOffset(ctx, bo)
	if !ok {
		return nil
	}
	saved := offset
	authFailing := false
	p.log.Info("telegram poller: started", zap.Int64("offset", offset), zap.Int("timeout_s", p.timeout))
	for {
		if ctx.Err() != nil {
			return nil
		}
		if saved != offset {
			if err := p.save(ctx, offset); err != nil {
				wait := bo.Next()
				p.log.Warn("telegram poller: saving the poll offset failed", zap.Int64("offset", offset),
					zap.Error(err), zap.Duration("backoff", wait))
				if !retry.Sleep(ctx, wait) {
					return nil
				}
				continue
			}
			saved = offset
		}
		timeout := p.timeout
		if authFailing {
			timeout = 0 // a short poll, so that a working token is seen at once
		}
		updates, err := p.c.GetUpdates(ctx, GetUpdatesParams{
			Offset:         offset,
			Limit:          p.limit,
			Timeout:        timeout,
			AllowedUpdates: p.allowed,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var wait time.Duration
			wait, authFailing = p.pollFailed(err, bo.Next(), authFailing)
			if !retry.Sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if authFailing {
			authFailing = false
			p.log.Info("telegram poller: Telegram accepts the bot token again; polling resumed")
			if p.report != nil {
				p.report(nil)
			}
		}
		handled, stop := p.handle(ctx, updates, bo, &offset, &saved)
		if stop {
			return nil
		}
		if handled {
			bo.Reset()
		}
	}
}

// loadOffset reads the stored poll offset, retrying with bo until it succeeds;
// ok is false when ctx ends first.
func (p *Poller) loadOffset(ctx context.Context, bo *retry.Backoff) (offset int64, ok bool) {
	for {
		o, err := p.offsets.PollOffset(ctx)
		if err == nil {
			return o, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		wait := bo.Next()
		p.log.Warn("telegram poller: loading the poll offset failed", zap.Error(err), zap.Duration("backoff", wait))
		if !retry.Sleep(ctx, wait) {
			return 0, false
		}
	}
}

// pollFailed logs a failed getUpdates by its kind and returns how long to wait
// (wait, or Telegram's retry_after on a 429) and whether the token is now
// known to be rejected (authFailing stays as it was for other errors).
func (p *Poller) pollFailed(err error, wait time.Duration, authFailing bool) (time.Duration, bool) {
	switch ra, is429 := RetryAfter(err); {
	case IsAuthFailure(err):
		if !authFailing {
			p.log.Error("telegram poller: Telegram rejected the bot token or the Bot API address "+
				"(401: token invalid or revoked; 404: wrong base URL or token); "+
				"no updates are received until it is fixed, retrying",
				zap.Error(err), zap.Duration("backoff", wait))
		} else {
			p.log.Debug("telegram poller: still rejected", zap.Error(err), zap.Duration("backoff", wait))
		}
		if p.report != nil {
			p.report(err)
		}
		return wait, true
	case IsConflict(err):
		p.log.Warn("telegram poller: getUpdates conflict: either a webhook is set for this bot "+
			"(the service must call deleteWebhook before polling) or another instance is polling "+
			"with the same token (only one poller may run)",
			zap.Error(err), zap.Duration("backoff", wait))
	case is429:
		wait = ra
		p.log.Warn("telegram poller: rate limited", zap.Error(err), zap.Duration("backoff", wait))
	default:
		p.log.Warn("telegram poller: getUpdates failed", zap.Error(err), zap.Duration("backoff", wait))
	}
	return wait, authFailing
}

// handle passes updates to the handler in order, advancing and saving *offset
// (and *saved) after each. handled is false when a handler or a save failed
// (the rest of the batch is fetched again); stop is true when ctx ended.
func (p *Poller) handle(ctx context.Context, updates []Update, bo *retry.Backoff, offset, saved *int64) (handled, stop bool) {
	for _, u := range updates {
		if err := p.h.HandleUpdate(ctx, u); err != nil {
			if ctx.Err() != nil {
				return false, true
			}
			wait := bo.Next()
			p.log.Error("telegram poller: handling update failed; it will be retried",
				zap.Int64("update_id", u.UpdateID), zap.String("kind", u.Kind()),
				zap.Error(err), zap.Duration("backoff", wait))
			if !retry.Sleep(ctx, wait) {
				return false, true
			}
			return false, false
		}
		*offset = u.UpdateID + 1
		if err := p.save(ctx, *offset); err != nil {
			// Retried at the top of Run's loop before polling again.
			p.log.Warn("telegram poller: saving the poll offset failed", zap.Int64("offset", *offset), zap.Error(err))
			return false, false
		}
		*saved = *offset
	}
	return true, false
}

// save stores offset even if ctx was cancelled right after the update was
// handled, so that a shutdown does not cause a replay.
func (p *Poller) save(ctx context.Context, offset int64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), offsetSaveTimeout)
	defer cancel()
	return p.offsets.SetPollOffset(ctx, offset)
}
