package delivery

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/telegram"
)

// Bounds of the pause after an auth failure: the first pause lasts up to
// authPauseMin, each failure after a pause doubles it, up to authPauseMax
// (each with jitter, between half and all of the step).
const (
	authPauseMin = time.Second
	authPauseMax = 30 * time.Second
	// authStale: while work is due, a paused send is retried at most
	// authPauseMax after the last failure. With no failure for longer than
	// this, nothing was tried since (the queue emptied, the work expired),
	// and the failure is no longer reported: it could not end otherwise.
	authStale = 2 * authPauseMax
)

// authState is whether Telegram currently rejects the bot's sends. An
// auth failure is not a verdict on the chat: nothing is failed or unlinked,
// the notification is retried after a pause that every send of this
// process observes (notePause), growing while the failures last.
type authState struct {
	mu      sync.Mutex
	failing bool
	reason  string
	step    time.Duration // the last pause's bound
	until   time.Time     // end of the current pause
	last    time.Time     // the latest failure
}

// failingAt reports whether an auth failure is current at now.
func (a *authState) failingAt(now time.Time) bool {
	return a.failing && now.Sub(a.last) <= authStale
}

// AuthFailure reports whether Telegram rejected the latest send with an
// auth failure ([telegram.IsAuthFailure]) and, if so, Telegram's answer.
// It turns false at the next successful send, or a minute after the last
// failure when no send was tried since. While it holds, every send of this
// process is paused between attempts (1 s growing to 30 s).
func (d *Dispatcher) AuthFailure() (reason string, failing bool) {
	d.auth.mu.Lock()
	defer d.auth.mu.Unlock()
	if !d.auth.failingAt(d.now()) {
		return "", false
	}
	return d.auth.reason, true
}

// authFailed handles an auth failure answer to a send: it pauses every
// send of this process, logs the first failure of an outage at Error
// level, reports it and returns when the notification may be tried again.
// Failures of sends that were in flight when the pause began share that
// pause rather than extend it.
func (d *Dispatcher) authFailed(log *zap.Logger, err error) time.Time {
	reason := err.Error()
	var te *telegram.Error
	if errors.As(err, &te) {
		reason = te.Error() // "telegram: 401 Unauthorized", without the wrapping
	}
	now := d.now()
	a := &d.auth
	a.mu.Lock()
	first := !a.failingAt(now)
	if first {
		a.step = 0
	}
	a.failing, a.reason, a.last = true, reason, now
	extend := !now.Before(a.until)
	if extend {
		a.step = min(max(2*a.step, authPauseMin), authPauseMax)
		a.until = now.Add(retry.Jitter(a.step))
	}
	until, step := a.until, a.step
	a.mu.Unlock()

	if extend {
		d.notePause(until.Sub(now))
	}
	d.observer().AuthFailed(reason)
	switch {
	case first:
		log.Error("delivery: Telegram rejects the bot token or the Bot API address "+
			"(401: token invalid or revoked; 404: wrong base URL); pausing every send, nothing is failed or unlinked",
			zap.String("answer", reason), zap.Duration("pause", until.Sub(now)))
	case extend:
		log.Warn("delivery: Telegram still rejects the bot token; sends stay paused",
			zap.String("answer", reason), zap.Duration("pause", until.Sub(now)), zap.Duration("max_pause", step))
	}
	return until
}

// authOK notes a successful send: an auth failure, if any, is over.
func (d *Dispatcher) authOK(log *zap.Logger) {
	a := &d.auth
	a.mu.Lock()
	was := a.failing
	if was {
		a.failing, a.reason, a.step, a.until = false, "", 0, time.Time{}
	}
	a.mu.Unlock()
	if !was {
		return
	}
	log.Info("delivery: Telegram accepts the bot token again; sends resumed")
	d.observer().AuthRecovered()
}
