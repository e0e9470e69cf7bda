package delivery

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/telegram"
)

// isOp reports whether the claimed record is an operation (edit or delete
// of sent messages, or a cancelled notification to drop) rather than a
// part to send.
func isOp(n Notification) bool {
	return n.State == StateSent || n.State == StateFailed || n.State == StateCancelled
}

// processOp carries out the claimed record's pending operation through the
// same rate limits as a send (the global slot, the chat's pacing) and
// retries it like one (429: the global pause; 5xx: backoff up to
// MaxAttempts). "message is not modified" is success.
func (w *worker) processOp(c Claim) {
	d, n := w.d, c.Notification
	if n.Op == "" || len(n.MessageIDs) == 0 { // a cancelled notification nothing of which was sent
		w.settleOp(c, OpDone, "", d.now())
		return
	}
	if !w.waitToSend(c, 0) {
		return
	}
	err := w.applyOp(c)
	if err != nil && n.Op == OpEdit && telegram.IsNotModified(err) {
		err = nil
	}
	dec := classify(sendResult{Err: err, Stopping: w.ctx.Err() != nil, Cut: w.hard.Err() != nil})
	switch dec.Verdict {
	case verdictSent:
		d.authOK(w.log)
		w.settleOp(c, OpDone, "", d.now().Add(d.chatInterval(c.ChatID)))
	case verdictAuthPause:
		w.settleOpRetry(c, dec.Desc, d.authFailed(w.log, err), 0)
	case verdictRateLimited:
		d.rateLimited(w.hard, w.log, dec.RetryAfter)
		w.settleOpRetry(c, dec.Desc, d.now().Add(dec.RetryAfter), 0)
	case verdictRelease:
		w.release(c, d.now(), 0, "")
	case verdictRetry:
		if n.OpRetries+1 >= d.cfg.MaxAttempts {
			w.settleOp(c, OpFailed, dec.Desc, d.now())
			return
		}
		next := d.now().Add(retry.Delay(d.cfg.MinBackoff, d.cfg.MaxBackoff, n.OpRetries))
		w.settleOpRetry(c, dec.Desc, next, 1)
	default: // refused for good (also a migrated or blocked chat: nothing to edit there)
		w.log.Info("delivery: operation refused", zap.String("id", n.ID), zap.String("op", n.Op),
			zap.String("error", dec.Desc))
		w.settleOp(c, OpFailed, dec.Desc, d.now())
	}
}

// applyOp calls the Bot API for the claimed operation: deleteMessages for
// a delete; for an edit editMessageText (a text message),
// editMessageCaption (a media message) or editMessageReplyMarkup (only
// the keyboard changes). The keyboard is always sent: Telegram drops one
// that an edit leaves out.
func (w *worker) applyOp(c Claim) error {
	d, n := w.d, c.Notification
	ctx, cancel := context.WithTimeout(w.hard, d.cfg.SendTimeout)
	defer cancel()
	if n.Op == OpDelete {
		ids := n.MessageIDs[:min(len(n.MessageIDs), telegram.MaxDeleteMessages)]
		return d.sender.DeleteMessages(ctx, c.ChatID, ids)
	}
	msg, kb := n.MessageIDs[len(n.MessageIDs)-1], Keyboard(n)
	switch {
	case !n.OpHasText:
		return d.sender.EditMessageReplyMarkup(ctx, telegram.EditMessageReplyMarkupParams{ChatID: c.ChatID,
			MessageID: msg, ReplyMarkup: kb})
	case n.Media.Kind != MediaNone:
		return d.sender.EditMessageCaption(ctx, telegram.EditMessageCaptionParams{ChatID: c.ChatID, MessageID: msg,
			Caption: n.OpText, ParseMode: n.OpParseMode, ReplyMarkup: kb})
	}
	p := telegram.EditMessageTextParams{ChatID: c.ChatID, MessageID: msg, Text: n.OpText, ParseMode: n.OpParseMode,
		ReplyMarkup: kb}
	if n.DisableLinkPreview {
		p.LinkPreviewOptions = &telegram.LinkPreviewOptions{IsDisabled: true}
	}
	return d.sender.EditMessageText(ctx, p)
}

// settleOp settles the claimed operation with result (done or failed).
func (w *worker) settleOp(c Claim, result OpResult, desc string, next time.Time) {
	n := c.Notification
	w.settle(c, Outcome{Kind: OutcomeOp, NextAt: next,
		Op: OpOutcome{Op: n.Op, Result: result, Error: desc, Revision: n.Rev()}})
}

// settleOpRetry keeps the claimed operation at the head of its chat's
// backlog, due at next; retries is added to its retry count.
func (w *worker) settleOpRetry(c Claim, desc string, next time.Time, retries int) {
	n := c.Notification
	w.settle(c, Outcome{Kind: OutcomeOp, NextAt: next, Retries: retries,
		Op: OpOutcome{Op: n.Op, Result: OpRetry, Error: desc, Revision: n.Rev()}})
}
