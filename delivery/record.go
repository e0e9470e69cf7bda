package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/telegram"
	"go.uber.org/zap"
)

// record carries out dec, classify's decision on the answer msg to the
// attempts-th send of claim c (err being the send's error): the side
// effects (the global pause, the unlink, the migration) and the outcome
// recorded. It is the one place where the consequences of a send happen.
func (w *worker) record(c Claim, dec decision, msg telegram.Message, attempts int, err error) {
	d, n := w.d, c.Notification
	retryAt := func(next time.Time) {
		w.settle(c, Outcome{Kind: OutcomeRetry, Attempts: attempts, LastError: dec.Desc, NextAt: next})
	}
	switch dec.Verdict {
	case verdictSent:
		w.partSent(c, msg, attempts, dec.Degraded)
	case verdictAuthPause: // the retry counts against nothing
		retryAt(d.authFailed(w.log, err))
	case verdictRateLimited: // 429s do not count as retries either
		d.rateLimited(w.hard, w.log, dec.RetryAfter)
		retryAt(d.now().Add(dec.RetryAfter))
	case verdictMigrate:
		w.migrate(c, dec.NewChat, attempts)
	case verdictFail:
		if dec.Unlink {
			if uerr := d.q.UnlinkBlocked(w.hard, n.UserID, c.ChatID); uerr != nil {
				w.log.Warn("delivery: cannot unlink blocked user", zap.String("user", n.UserID), zap.Error(uerr))
			}
		}
		w.fail(c, dec.Reason, dec.Desc, attempts)
	case verdictRetry, verdictRelease:
		if dec.Ambiguous {
			d.observer().Ambiguous()
			w.log.Warn("delivery: send outcome unknown; retrying (a duplicate is possible)",
				zap.String("id", n.ID), zap.Int64("chat", c.ChatID), zap.Error(err))
		}
		if dec.Verdict == verdictRelease { // shutdown cut the send: give the work back untouched
			w.release(c, d.now(), attempts, dec.Desc)
			return
		}
		next, reason := d.retryPlan(n)
		if reason != "" {
			w.fail(c, reason, dec.Desc, attempts)
			return
		}
		d.observer().Retried()
		w.settle(c, Outcome{Kind: OutcomeRetry, Attempts: attempts, Retries: 1, LastError: dec.Desc, NextAt: next})
	}
}

// retryPlan decides when n, after a temporary failure, is tried again:
// exponential backoff (MinBackoff ×2 per retry, jittered, capped at
// MaxBackoff); or the reason to fail it instead (its retries used up, or
// the retry would come after MaxAge).
func (d *Dispatcher) retryPlan(n Notification) (next time.Time, failReason string) {
	if n.Retries+1 >= d.cfg.MaxAttempts {
		return time.Time{}, ReasonMaxAttempts
	}
	next = d.now().Add(retry.Delay(d.cfg.MinBackoff, d.cfg.MaxBackoff, n.Retries))
	if next.Sub(n.CreatedAt) >= d.cfg.MaxAge {
		return time.Time{}, ReasonExpired
	}
	return next, ""
}

// partSent records a sent part (degraded: how it departed from the
// request, if it did).
func (w *worker) partSent(c Claim, msg telegram.Message, attempts int, degraded string) {
	d, n := w.d, c.Notification
	d.authOK(w.log)
	d.observer().PartSent()
	if n.NextPart+1 >= len(n.Parts) {
		if n.Reply {
			d.observer().Reply(ReplySent)
		} else {
			d.observer().Finished(FinishedSent, "")
		}
	}
	fileID := ""
	if n.IsMediaPart(n.NextPart) {
		fileID = msg.MediaFileID()
	}
	w.settle(c, Outcome{Kind: OutcomePartSent, MessageID: msg.MessageID, Attempts: attempts, Degraded: degraded,
		MediaFileID: fileID, NextAt: d.now().Add(d.chatInterval(c.ChatID))})
}

// fail settles c as FAILED.
func (w *worker) fail(c Claim, reason, lastErr string, attempts int) {
	d := w.d
	if c.Notification.Reply {
		d.observer().Reply(ReplyFailed)
	} else {
		d.observer().Finished(FinishedFailed, reason)
	}
	w.log.Info("delivery: notification failed", zap.String("id", c.Notification.ID), zap.Int64("chat", c.ChatID),
		zap.String("reason", reason), zap.String("error", lastErr))
	w.settle(c, Outcome{Kind: OutcomeFail, Reason: reason, LastError: lastErr, Attempts: attempts, NextAt: d.now()})
}

// rateLimited reports a 429 and pauses all sends for ra, here at once and
// for every replica through the queue's limiter.
func (d *Dispatcher) rateLimited(ctx context.Context, log *zap.Logger, ra time.Duration) {
	d.observer().RateLimited(ra)
	log.Warn("delivery: 429 from Telegram; pausing all sends", zap.Duration("retry_after", ra))
	d.notePause(ra)
	if err := d.q.Pause(ctx, ra); err != nil {
		log.Warn("delivery: cannot record the global pause", zap.Error(err))
	}
}

// migrate moves the links and the chat's backlog to the supergroup newChat
// in one step; the head is resent there.
func (w *worker) migrate(c Claim, newChat int64, attempts int) {
	d := w.d
	d.observer().Migrated()
	w.log.Info("delivery: group migrated to a supergroup", zap.Int64("from", c.ChatID), zap.Int64("to", newChat))
	bo := retry.New(50*time.Millisecond, storeRetryMax)
	for {
		err := d.q.Migrate(w.hard, c, newChat, d.now())
		if err == nil {
			break
		}
		wait := bo.Next()
		if errors.Is(err, ErrLeaseLost) || !d.now().Add(wait).Before(c.LeaseUntil) || w.hard.Err() != nil {
			// Nothing moved (the links move with the backlog): the head is
			// sent to the old chat again and answered with the migration
			// again. Rare (a store outage); logged loudly.
			w.log.Error("delivery: cannot move the backlog to the supergroup", zap.Int64("from", c.ChatID),
				zap.Int64("to", newChat), zap.Error(err))
			w.release(c, d.now().Add(d.cfg.MinBackoff), attempts, err.Error())
			return
		}
		time.Sleep(wait) // bounded by the lease; not synchronisation
	}
	d.signal()
}
