package delivery

// Edits and deletions: the life of a notification after Notify.
//
// An edit of a notification nothing of which is sent replaces what will be
// sent (re-split allowed) in one atomic step of the queue. Once sending has
// begun (the one message is claimed, or sent), the edit is recorded on the
// record as the pending operation (Changes.Op "edit", with the new text)
// and the notification's id goes through its chat's backlog once more: a
// worker claims it like a send (same lease, same global rate slot, same
// per-chat pacing) and calls editMessageText, editMessageCaption or
// editMessageReplyMarkup. Edits coalesce: a newer edit overwrites the
// pending one, so the last wins and an older one is never applied after a
// newer one. A notification sent as several messages (split text, or a
// media followed by its text) cannot be edited once sending has begun
// (ErrNotEditable).
//
// A delete of a notification not fully sent makes it CANCELLED at once: the
// parts not sent are never sent (a claim in flight notices it when it
// settles); sent parts are deleted by the operation "delete"
// (deleteMessages), as are the messages of a SENT notification. CANCELLED
// counts as neither sent nor failed and emits no event.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// EditState is where a notification's latest edit is. The numbers match
// notifier.v1.EditState.
type EditState int

// Edit states.
const (
	// EditNone means never edited.
	EditNone EditState = 0
	// EditPending means accepted, not yet applied to the sent message.
	EditPending EditState = 1
	// EditApplied means applied (before sending: it replaced what is sent).
	EditApplied EditState = 2
	// EditFailed means Telegram refused it for good (EditError says why).
	EditFailed EditState = 3
)

// Pending operations of a notification (Changes.Op).
const (
	// OpEdit edits the sent message in place.
	OpEdit = "edit"
	// OpDelete deletes the sent messages.
	OpDelete = "delete"
)

// ErrNotEditable means the notification cannot be edited (it FAILED, was
// CANCELLED or deleted, was sent as several messages, or the new text does
// not fit its one message): the service answers FAILED_PRECONDITION.
var ErrNotEditable = errors.New("notification cannot be edited")

// Changes are a notification's revision, edits and deletion, and the
// operation (edit or delete of its sent messages) waiting in its chat's
// backlog.
type Changes struct {
	// Revision is 1 for the original, +1 for every accepted edit (0 is
	// read as 1).
	Revision int
	// EditState and EditError describe the latest edit.
	EditState EditState
	EditError string
	// Deleted reports that its sent messages were deleted; DeleteError why
	// Telegram refused (older than 48 h).
	Deleted     bool
	DeleteError string
	// Op is the pending operation ("", OpEdit or OpDelete). For OpEdit,
	// OpHasText says whether the text changes (else only the keyboard),
	// OpText and OpParseMode are the new text; the keyboard is Buttons.
	Op          string
	OpHasText   bool
	OpText      string
	OpParseMode string
	// OpRetries counts the temporary failures of the pending operation.
	OpRetries int
}

// Rev returns the revision (1 when unset).
func (c Changes) Rev() int { return max(c.Revision, 1) }

// OpResult is how an operation attempt ended.
type OpResult string

// Operation results.
const (
	// OpDone: applied (or nothing left to do); the operation is finished.
	OpDone OpResult = "done"
	// OpFailed: refused for good; Error is recorded as EditError or
	// DeleteError.
	OpFailed OpResult = "fail"
	// OpRetry: a temporary failure; the operation stays at the head of the
	// backlog, due at NextAt.
	OpRetry OpResult = "retry"
)

// OpOutcome is the result of an operation attempt (Outcome.Op). The queue
// finishes the operation only when the record's pending operation is still
// Op at Revision (the claim's): a newer edit (or a delete) that came in
// meanwhile stays pending and is done next.
type OpOutcome struct {
	Op       string
	Result   OpResult
	Error    string
	Revision int
}

// Edit is an accepted edit, as the queue applies it (Queue.Edit).
type Edit struct {
	// ID is the notification.
	ID string
	// HasText says the text changes: Parts is its plan (PlanParts), used
	// when nothing is sent yet; Fits says it is one message (or caption),
	// required once sending has begun; Text and ParseMode are the text.
	HasText   bool
	Parts     []string
	Fits      bool
	Text      string
	ParseMode string
	// SetButtons replaces the keyboard with Buttons (nil: remove it);
	// otherwise the keyboard stays.
	SetButtons bool
	Buttons    [][]Button
	// Now is when it was accepted; Retention how long the record is kept.
	Now       time.Time
	Retention time.Duration
}

// Editor is the queue's side of edits and deletions (part of [Queue]).
type Editor interface {
	// Edit applies e atomically (see the package documentation of
	// edit.go) and returns the record after it; ErrNotEditable (wrapped)
	// when it cannot be edited, the store's not-found error when unknown.
	Edit(ctx context.Context, e Edit) (Notification, error)
	// Delete retracts the notification id atomically (CANCELLED when not
	// fully sent; its sent messages queued for deletion) and returns the
	// record after it; deleting twice changes nothing.
	Delete(ctx context.Context, id string, now time.Time, retention time.Duration) (Notification, error)
}

// EditRequest is an edit of a notification (EditNotification).
type EditRequest struct {
	ID string
	// Text is the new text ("" keeps the text: only the keyboard changes),
	// in ParseMode.
	Text, ParseMode string
	// Buttons replaces the keyboard; ClearButtons removes it; neither
	// keeps it.
	Buttons      [][]Button
	ClearButtons bool
}

// Edit accepts an edit of a notification: it plans the new text like
// Enqueue (for the record's media) and hands it to the queue, which
// replaces what will be sent or queues the edit of the sent message. It
// fails with the queue's not-found error, ErrNotEditable, ErrInvalidText or
// ErrCannotSplit.
func (d *Dispatcher) Edit(ctx context.Context, r EditRequest) (Notification, error) {
	n, err := d.q.Get(ctx, r.ID)
	if err != nil {
		return Notification{}, fmt.Errorf("delivery: edit %q: %w", r.ID, err)
	}
	if n.Reply {
		return Notification{}, fmt.Errorf("delivery: edit %q: %w: a bot reply", r.ID, ErrNotEditable)
	}
	if !telegram.ValidParseMode(r.ParseMode) {
		return Notification{}, fmt.Errorf("%w: parse mode %q", ErrInvalidRequest, r.ParseMode)
	}
	e := Edit{ID: r.ID, SetButtons: r.ClearButtons || len(r.Buttons) > 0, Now: d.now(), Retention: d.cfg.Retention}
	if !r.ClearButtons {
		e.Buttons = CloneButtons(r.Buttons)
	}
	if strings.TrimSpace(r.Text) != "" {
		media := n.Media.Kind != MediaNone
		parts, err := planParts(r.Text, r.ParseMode, media, n.TopicID != 0)
		if err != nil {
			return Notification{}, err
		}
		e.HasText, e.Parts, e.Text, e.ParseMode = true, parts, r.Text, r.ParseMode
		e.Fits = len(parts) == 1 && (!media || parts[0] != "")
	}
	got, err := d.q.Edit(ctx, e)
	if err != nil {
		return Notification{}, fmt.Errorf("delivery: edit %q: %w", r.ID, err)
	}
	if got.Op != "" {
		d.signal()
	}
	return got, nil
}

// Delete retracts a notification: CANCELLED when not fully sent, and its
// sent messages deleted through its chat's queue. Deleting twice is
// harmless. It fails with the queue's not-found error.
func (d *Dispatcher) Delete(ctx context.Context, id string) (Notification, error) {
	got, err := d.q.Delete(ctx, id, d.now(), d.cfg.Retention)
	if err != nil {
		return Notification{}, fmt.Errorf("delivery: delete %q: %w", id, err)
	}
	if got.Op != "" {
		d.signal()
	}
	return got, nil
}
