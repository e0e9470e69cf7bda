package store

// Edits and deletions in memory: the same steps as store/lua/edit.lua,
// delete.lua and lib/op.lua, under the queue's lock.

import (
	"context"
	"fmt"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
)

// dropOp clears n's pending operation.
func dropOp(n *delivery.Notification) {
	n.Op, n.OpHasText, n.OpText, n.OpParseMode, n.OpRetries = "", false, "", "", 0
}

// sentWithEditLocked handles an edit pending on n, which has just become
// SENT by claim c: an edit newer than the claim keeps n in the backlog (the
// sent message is edited next; it reports true); one the claim sent is
// APPLIED.
func sentWithEditLocked(n *delivery.Notification, c delivery.Claim) bool {
	if n.Op != delivery.OpEdit {
		return false
	}
	if n.Rev() > c.Notification.Rev() {
		return true
	}
	n.EditState = delivery.EditApplied
	dropOp(n)
	return false
}

// settleOpLocked is lib/op.lua's settle_op: it settles claim c of n, an
// operation (o.Kind OutcomeOp) or a notification cancelled while claimed,
// and reports whether n stays in its chat's backlog.
func settleOpLocked(n *delivery.Notification, c delivery.Claim, o delivery.Outcome, now time.Time) bool {
	n.UpdatedAt = now
	if o.Kind != delivery.OutcomeOp { // a send settled on a cancelled notification
		if o.Kind == delivery.OutcomePartSent {
			n.MessageIDs = append(n.MessageIDs, o.MessageID)
			n.NextPart++
			n.Op = delivery.OpDelete
			return true
		}
		return n.Op != ""
	}
	if o.Op.Result == delivery.OpRetry {
		n.OpRetries += o.Retries
		return n.Op != ""
	}
	if n.Op != o.Op.Op || (n.Op == delivery.OpEdit && n.Rev() != o.Op.Revision) {
		return n.Op != ""
	}
	switch n.Op {
	case delivery.OpEdit:
		if o.Op.Result == delivery.OpDone {
			n.EditState, n.EditError = delivery.EditApplied, ""
		} else {
			n.EditState, n.EditError = delivery.EditFailed, o.Op.Error
		}
	case delivery.OpDelete:
		if o.Op.Result == delivery.OpDone {
			n.Deleted, n.DeleteError = true, ""
		} else {
			n.DeleteError = o.Op.Error
		}
	}
	dropOp(n)
	return false
}

// queueOpLocked appends id to chat's backlog and schedules the chat as
// enqueue does (lib/op.lua's queue_op).
func (m *MemoryQueue) queueOpLocked(chat int64, id string, now time.Time) {
	m.queues[chat] = append(m.queues[chat], id)
	if _, leased := m.leases[chat]; leased {
		return
	}
	if _, ok := m.sched[chat]; ok {
		return
	}
	at := now
	if nb, ok := m.notBefore[chat]; ok && nb.After(at) {
		at = nb
	}
	delete(m.notBefore, chat)
	m.sched[chat] = at
}

// Edit applies e in one step (as store/lua/edit.lua) and returns the
// record after it.
func (m *MemoryQueue) Edit(ctx context.Context, e delivery.Edit) (delivery.Notification, error) {
	clock, err := m.lock(ctx, "edit")
	if err != nil {
		return delivery.Notification{}, err
	}
	defer m.mu.Unlock()
	r := m.recLocked(e.ID, clock)
	if r == nil || r.n.Reply || r.n.Broadcast != "" {
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", e.ID, ErrNotFound)
	}
	n := &r.n
	queued := n.State == delivery.StateQueued
	switch {
	case n.State == delivery.StateFailed || n.State == delivery.StateCancelled:
		return delivery.Notification{}, editRefusal(e.ID, "state")
	case n.Op == delivery.OpDelete || n.Deleted:
		return delivery.Notification{}, editRefusal(e.ID, "deleted")
	case !queued && len(n.Parts) > 1:
		return delivery.Notification{}, editRefusal(e.ID, "split")
	case !queued && e.HasText && !e.Fits:
		return delivery.Notification{}, editRefusal(e.ID, "too_long")
	}
	n.Revision, n.UpdatedAt, n.EditError = n.Rev()+1, e.Now, ""
	if e.SetButtons {
		n.Buttons = delivery.CloneButtons(e.Buttons)
		if len(n.Buttons) == 0 {
			n.Buttons = nil
		}
	}
	if e.HasText && (queued || n.NextPart == 0) {
		n.Parts, n.ParseMode = append([]string(nil), e.Parts...), e.ParseMode
		n.TextLen, n.TextSHA256 = textDigest(n.Parts)
	}
	if queued {
		n.EditState = delivery.EditApplied
	} else {
		if e.HasText {
			n.OpHasText, n.OpText, n.OpParseMode = true, e.Text, e.ParseMode
		} else if n.Op != delivery.OpEdit {
			n.OpHasText, n.OpText, n.OpParseMode = false, "", ""
		}
		if n.Op != delivery.OpEdit && n.State == delivery.StateSent {
			m.queueOpLocked(n.ChatID, n.ID, e.Now)
		}
		n.Op, n.EditState = delivery.OpEdit, delivery.EditPending
	}
	r.expires = clock.Add(e.Retention)
	return n.Clone(), nil
}

// Delete retracts the notification id in one step (as
// store/lua/delete.lua) and returns the record after it.
func (m *MemoryQueue) Delete(ctx context.Context, id string, now time.Time, retention time.Duration) (delivery.Notification, error) {
	clock, err := m.lock(ctx, "delete")
	if err != nil {
		return delivery.Notification{}, err
	}
	defer m.mu.Unlock()
	r := m.recLocked(id, clock)
	if r == nil || r.n.Reply || r.n.Broadcast != "" {
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	n := &r.n
	if n.State == delivery.StateCancelled || n.Deleted || n.Op == delivery.OpDelete {
		return n.Clone(), nil
	}
	inBacklog := n.Op == delivery.OpEdit // queued for its edit already
	if inBacklog {
		n.EditState, n.EditError = delivery.EditFailed, "deleted before the edit was applied"
		dropOp(n)
	}
	switch {
	case n.State == delivery.StateQueued || n.State == delivery.StateSending:
		wasQueued := n.State == delivery.StateQueued
		n.State, n.UpdatedAt = delivery.StateCancelled, now
		dropText(n)
		s := m.summaryLocked(n.UserID, clock)
		s.queued--
		s.cancelled++
		s.expires = clock.Add(retention)
		if n.NextPart > 0 {
			n.Op = delivery.OpDelete
		} else if wasQueued {
			m.removeIDLocked(n.ChatID, id)
		}
	case len(n.MessageIDs) > 0:
		n.Op, n.DeleteError, n.UpdatedAt = delivery.OpDelete, "", now
		if !inBacklog {
			m.queueOpLocked(n.ChatID, id, now)
		}
	}
	r.expires = clock.Add(retention)
	return n.Clone(), nil
}
