package delivery

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/telegram"
)

// worker is the state of one sending loop.
type worker struct {
	d *Dispatcher
	// ctx ends when the worker must stop claiming; hard outlives it by
	// the drain timeout and carries the in-flight work.
	ctx, hard context.Context
	log       *zap.Logger
	// next is the claim that the last settle took in the same store call
	// (SettleAndClaim), held while have is true: the worker's next work.
	next Claim
	have bool
	// storeBackoff paces the retries while the store is down (storeIsDown).
	storeBackoff *retry.Backoff
	storeIsDown  bool
}

// worker claims and sends until ctx ends. Settling a claim usually claims
// the next chat in the same store call (worker.next), so the loop only
// calls Claim when it has nothing in hand.
func (d *Dispatcher) worker(ctx, hard context.Context, id int) {
	w := &worker{d: d, ctx: ctx, hard: hard, log: d.log.With(zap.Int("worker", id)),
		storeBackoff: retry.New(50*time.Millisecond, storeRetryMax)}
	defer func() {
		if w.have { // claimed while settling just as ctx ended: hand it back
			w.have = false
			w.release(w.next, d.now(), 0, "")
		}
	}()
	for ctx.Err() == nil {
		if c, ok := w.take(); ok {
			w.process(c)
		}
	}
}

// take returns the claim the last settle took, else claims the next due
// chat. Without one it has waited: out the pause, the store's backoff,
// or idle until work is due (the throttle is waited out by claim).
func (w *worker) take() (Claim, bool) {
	if w.have {
		w.have = false
		return w.next, true
	}
	d := w.d
	if p := d.localPause(); p > 0 {
		retry.Sleep(w.ctx, p)
		return Claim{}, false
	}
	wake := d.wakeChan()
	c, ok, err := d.claim(w.ctx)
	if err != nil {
		if w.ctx.Err() == nil {
			w.storeDown("claim", err)
		}
		return Claim{}, false
	}
	if w.storeIsDown {
		w.log.Info("delivery: store available again")
		w.storeIsDown = false
		w.storeBackoff.Reset()
	}
	if !ok && !d.noteLimit(c.Paused, c.Throttled) {
		d.idle(w.ctx, wake)
	}
	return c, ok
}

// storeDown backs off after a failed store call.
func (w *worker) storeDown(op string, err error) {
	if !w.storeIsDown {
		w.log.Warn("delivery: store unavailable, backing off", zap.String("op", op), zap.Error(err))
		w.storeIsDown = true
	}
	retry.Sleep(w.ctx, w.storeBackoff.Next())
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

// process handles one claim: checks, rate limits, one part sent (or a
// failure classified), and the decision carried out (record).
func (w *worker) process(c Claim) {
	d, n := w.d, c.Notification
	if isOp(n) { // an edit or delete of sent messages (edit_worker.go)
		w.processOp(c)
		return
	}
	if reason, desc, ok := d.sendable(c); !ok {
		w.fail(c, reason, desc, 0)
		return
	}
	replyTo, err := w.replyTarget(c)
	if err != nil {
		w.log.Warn("delivery: cannot read the notification replied to; retrying later",
			zap.String("id", n.ID), zap.Error(err))
		w.release(c, d.now().Add(d.cfg.MinBackoff), 0, "")
		return
	}
	text, mode := n.Parts[n.NextPart], n.ParseMode
	topic, topicFell := sendTopic(c), n.Degraded == DegradedTopicFallback
	attempts, fellBack := 0, false
	for {
		if !w.waitToSend(c, attempts) {
			return
		}
		attempts++
		msg, err := w.sendPart(c, text, mode, replyTo, topic)
		dec := classify(sendResult{Err: err, CanFallback: mode != "" && n.PlainTextFallback, Reply: n.Reply,
			Stopping: w.ctx.Err() != nil, Cut: w.hard.Err() != nil, FellBack: fellBack,
			InTopic: topic != 0, NoTopicFallback: n.NoTopicFallback, TopicFellBack: topicFell})
		switch dec.Verdict {
		case verdictFallback:
			d.observer().Fallback()
			w.log.Info("delivery: can't parse entities; resending as plain text", zap.String("id", n.ID), zap.Error(err))
			// The plain resend reads without the markup characters.
			text, mode, fellBack = StripMarkup(text, mode), "", true
			continue
		case verdictTopicFallback:
			w.log.Info("delivery: forum topic gone or closed; resending to the group's main chat",
				zap.String("id", n.ID), zap.Int64("topic", topic), zap.Error(err))
			// The note is valid text in every parse mode (topic.go).
			text, topic, topicFell = TopicNote(n.TopicID)+text, 0, true
			continue
		}
		w.record(c, dec, msg, attempts, err)
		return
	}
}

// sendable reports whether the claimed notification may be sent; else the
// reason and error to fail it with. The claim read the user's link.
func (d *Dispatcher) sendable(c Claim) (reason, desc string, ok bool) {
	n := c.Notification
	switch {
	case d.now().Sub(n.CreatedAt) >= d.cfg.MaxAge:
		return ReasonExpired, orDefault(n.LastError, "not delivered within max age"), false
	case n.NextPart >= len(n.Parts): // cannot happen: settling the last part makes it SENT
		return ReasonRejected, "corrupt record: no part left to send", false
	case n.Reply: // a reply goes to its chat, linked or not
		return "", "", true
	case c.LinkedChat == 0:
		return ReasonNotLinked, "user is not linked to a Telegram chat", false
	case c.LinkedChat != c.ChatID:
		return ReasonNotLinked, "user is now linked to another chat", false
	}
	return "", "", true
}

// waitToSend honours the global pause and takes a global rate slot: the
// one the claim reserved for the first attempt, else one from the
// limiter, within what the lease leaves. It releases the claim and
// returns false when paused, when no slot can be had in time (none is
// taken then: the chat is due again when one may be, and the workers wait
// for the limit through claim), or when the worker must stop.
func (w *worker) waitToSend(c Claim, attempts int) bool {
	d := w.d
	reserved := attempts == 0 && c.Reserved
	for try := 0; ; try++ {
		if p := d.localPause(); p > 0 {
			w.release(c, d.now().Add(p), attempts, "")
			return false
		}
		wait := c.Wait // counted from the claim's answer, like Acquire's: never early
		if !reserved {
			var ok bool
			if wait, ok = w.acquireSlot(c, attempts); !ok {
				return false
			}
		}
		slotAt := d.now().Add(wait)
		if !retry.Sleep(w.ctx, wait) {
			w.release(c, d.now(), attempts, "")
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
			w.release(c, d.now().Add(p), attempts, "")
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
func (w *worker) acquireSlot(c Claim, attempts int) (time.Duration, bool) {
	d := w.d
	maxWait := max(min(c.LeaseUntil.Sub(d.now())-2*d.cfg.SendTimeout, d.maxWait), 0)
	if c.Notification.PaidBroadcast {
		return w.acquirePaidSlot(c, attempts, maxWait) // broadcast.go
	}
	wait, paused, err := d.q.Acquire(w.ctx, globalLimit, d.cfg.GlobalRate, d.cfg.GlobalBurst, maxWait)
	if err != nil {
		w.release(c, d.now().Add(d.cfg.MinBackoff), attempts, "")
		return 0, false
	}
	throttled := time.Duration(0)
	if paused <= 0 {
		throttled = max(wait-maxWait, 0) // no slot taken
	}
	if d.noteLimit(paused, throttled) { // another replica's 429, or the limit saturated
		w.release(c, d.now().Add(paused+throttled), attempts, "")
		return 0, false
	}
	return wait, true
}

// replyTarget returns the message id that the claimed part replies to: for
// the first part of a notification with a ReplyToID, the first message of
// that notification, read now (the chat's FIFO order sent it first), when
// it went to the same chat; 0 when there is none (not a first part, no
// ReplyToID, the original unknown or expired, FAILED, without a message,
// or in another chat). It fails only when the store does.
func (w *worker) replyTarget(c Claim) (int64, error) {
	n := c.Notification
	if n.ReplyToID == "" || n.NextPart != 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(w.hard, settleTimeout)
	defer cancel()
	orig, err := w.d.q.Get(ctx, n.ReplyToID)
	switch {
	case errors.Is(err, ErrUnavailable):
		return 0, err
	case err != nil: // unknown or expired (or corrupt): send without replying
		return 0, nil
	case orig.State == StateFailed, len(orig.MessageIDs) == 0, orig.ChatID != c.ChatID:
		return 0, nil
	}
	return orig.MessageIDs[0], nil
}

// sendPart sends the claimed part, text in parse mode mode (the part, or
// its plain resend without the markup): the media with text as its caption,
// or a message.
func (w *worker) sendPart(c Claim, text, mode string, replyTo, topic int64) (telegram.Message, error) {
	d, n := w.d, c.Notification
	if n.IsMediaPart(n.NextPart) {
		return d.sendMedia(w.hard, c.ChatID, n, text, mode, replyTo, topic)
	}
	p := sendParams(c.ChatID, n, mode, replyTo, d.cfg.AllowPaidBroadcast || n.PaidBroadcast)
	p.Text, p.MessageThreadID = text, topic
	return d.send(w.hard, p)
}

// sendParams returns the sendMessage parameters of n's next part to chat,
// in parse mode mode ("" for a plain-text resend). The link preview and
// protect_content apply to every part; replyTo (0: none) makes the part a
// reply that is sent even if the message replied to is gone.
func sendParams(chat int64, n Notification, mode string, replyTo int64, paid bool) telegram.SendMessageParams {
	p := telegram.SendMessageParams{
		ChatID: chat, Text: n.Parts[n.NextPart], ParseMode: mode, DisableNotification: n.DisableNotification,
		ProtectContent: n.ProtectContent, AllowPaidBroadcast: paid,
	}
	if n.DisableLinkPreview {
		p.LinkPreviewOptions = &telegram.LinkPreviewOptions{IsDisabled: true}
	}
	if replyTo != 0 {
		p.ReplyParameters = &telegram.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
	}
	p.ReplyMarkup = lastPartKeyboard(n)
	return p
}

// lastPartKeyboard returns the inline keyboard of n's next part: n's
// buttons on its last part (the last message of a split text, or the media
// when it goes with the whole text), nil on the others.
func lastPartKeyboard(n Notification) *telegram.InlineKeyboardMarkup {
	if n.NextPart != len(n.Parts)-1 {
		return nil
	}
	return Keyboard(n)
}

// send calls sendMessage bounded by SendTimeout.
func (d *Dispatcher) send(hard context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	ctx, cancel := context.WithTimeout(hard, d.cfg.SendTimeout)
	defer cancel()
	return d.sender.SendMessage(ctx, p)
}

// settleTimeout bounds one attempt to record an outcome.
const settleTimeout = 5 * time.Second

// settle records o, retrying while the store is down until the lease would
// have expired (after which another worker owns the chat anyway) or Run's
// drain deadline has passed (shutdown must not outlast it; the lease then
// lapses and the chat is taken over). It tries at least once, even after
// the drain deadline, so that unfinished work is handed back. Unless o
// releases the claim or the worker may not take new work, the first
// attempt also claims the next due chat in the same store call: the
// worker's next work (w.next), or the pause or throttle it found.
func (w *worker) settle(c Claim, o Outcome) {
	d := w.d
	next := o.Kind != OutcomeRelease && d.mayClaim(w.ctx)
	bo := retry.New(50*time.Millisecond, storeRetryMax)
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
		switch {
		case err == nil && ok:
			w.next, w.have = nc, true
			return
		case err == nil:
			d.noteLimit(nc.Paused, nc.Throttled)
			return
		case errors.Is(err, ErrLeaseLost):
			d.observer().LeaseLost()
			w.log.Warn("delivery: lease lost before settling; another worker took the chat over",
				zap.Int64("chat", c.ChatID), zap.String("id", c.Notification.ID))
			return
		}
		next = false
		if !d.settleBackoff(c, bo.Next()) {
			w.log.Error("delivery: cannot record outcome; the notification will be retried after the lease expires",
				zap.Int64("chat", c.ChatID), zap.String("id", c.Notification.ID), zap.Error(err))
			return
		}
	}
}

// settleBackoff waits before settling c again and reports whether to try:
// not after the drain deadline, nor when the wait would outlast c's lease.
func (d *Dispatcher) settleBackoff(c Claim, wait time.Duration) bool {
	select {
	case <-d.drained:
		return false
	default:
	}
	if !d.now().Add(wait).Before(c.LeaseUntil) {
		return false
	}
	t := time.NewTimer(wait) // bounded by the lease and the drain
	select {
	case <-t.C:
	case <-d.drained: // one last attempt, then give up
	}
	t.Stop()
	return true
}

// release gives the claim back, schedulable at at.
func (w *worker) release(c Claim, at time.Time, attempts int, lastErr string) {
	w.settle(c, Outcome{Kind: OutcomeRelease, NextAt: at, Attempts: attempts, LastError: lastErr})
}
