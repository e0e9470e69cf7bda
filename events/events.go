// Package events is tgnotify's event log model: what happened to links,
// notifications and button presses, in one ordered, resumable log that the
// application reads (ListEvents), watches (WatchEvents) or has pushed to it
// (the event webhook).
//
// The log itself lives in the store (a Redis Stream, or its in-memory
// twin). Every state change that makes an event appends it in the same
// atomic step as the change, so no change is without its event and no event
// without its change. Consumers declare the small interfaces they need
// ([Reader], [Appender]); the store implements them.
//
//	evs, next, err := log.Read(ctx, cursor, events.Filter{Types: []events.Type{events.TypeUserLinked}}, 100)
package events

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Type is the kind of an event. The numbers match notifier.v1.EventType.
type Type int

// Event types.
const (
	// TypeUserLinked: a user linked a chat (Reason empty).
	TypeUserLinked Type = 1
	// TypeUserUnlinked: a link was removed; Reason is one of the Reason*
	// constants.
	TypeUserUnlinked Type = 2
	// TypeNotificationSent: every part of a notification was sent.
	TypeNotificationSent Type = 3
	// TypeNotificationFailed: a notification failed for good; Reason is its
	// failure reason.
	TypeNotificationFailed Type = 4
	// TypeButtonPressed: a callback button was pressed (Callback set).
	TypeButtonPressed Type = 5
	// TypeMessageReceived: a linked user wrote a text to the bot (Text set;
	// only with NOTIFIER_FORWARD_MESSAGES=true).
	TypeMessageReceived Type = 6
	// TypeBroadcastFinished: a broadcast ended, every recipient sent,
	// failed or cancelled (BroadcastID set; Reason "done" or "cancelled").
	TypeBroadcastFinished Type = 7
)

// Reasons of TypeUserUnlinked.
const (
	// ReasonStop: the user sent /stop.
	ReasonStop = "stop"
	// ReasonBlocked: the user blocked the bot (an update or a 403 on send).
	ReasonBlocked = "blocked"
	// ReasonApp: the application called Unlink.
	ReasonApp = "app"
	// ReasonRelinked: the user linked another chat (comes before the new
	// TypeUserLinked).
	ReasonRelinked = "relinked"
	// ReasonRemoved: the bot was removed from the linked group
	// (my_chat_member "left" or "kicked" in a group or supergroup).
	ReasonRemoved = "removed"
)

// Valid reports whether t is a known event type.
func (t Type) Valid() bool { return t >= TypeUserLinked && t <= TypeBroadcastFinished }

// String returns the event type's proto name without prefix ("USER_LINKED").
func (t Type) String() string {
	switch t {
	case TypeUserLinked:
		return "USER_LINKED"
	case TypeUserUnlinked:
		return "USER_UNLINKED"
	case TypeNotificationSent:
		return "NOTIFICATION_SENT"
	case TypeNotificationFailed:
		return "NOTIFICATION_FAILED"
	case TypeButtonPressed:
		return "BUTTON_PRESSED"
	case TypeMessageReceived:
		return "MESSAGE_RECEIVED"
	case TypeBroadcastFinished:
		return "BROADCAST_FINISHED"
	}
	return "UNSPECIFIED"
}

// Event is one entry of the log.
type Event struct {
	// Cursor is the entry's position in the log (a Redis Stream entry id
	// such as "1764600000000-0"); reading after it resumes after this
	// event. Set by the log.
	Cursor string
	// ID is the event's stable id, for receivers that de-duplicate (the
	// webhook is at-least-once). Set by the log.
	ID string
	// Type is the kind of event.
	Type Type
	// Time is when the change happened (set by the log when zero).
	Time time.Time
	// UserID and ChatID name the user and chat concerned (when known).
	UserID string
	ChatID int64
	// NotificationID, State (a notifier.v1.NotificationState number) and
	// Reason describe a notification's end, or an unlink's reason.
	NotificationID string
	State          int
	Reason         string
	// Callback is a pressed button's callback string.
	Callback string
	// Text is a forwarded message's text.
	Text string
	// Username is the Telegram username concerned, when known.
	Username string
	// BroadcastID is the broadcast concerned (TypeBroadcastFinished).
	BroadcastID string
}

// Filter selects events: none of its fields set selects all.
type Filter struct {
	// Types, when not empty, keeps only these types.
	Types []Type
	// UserID, when not empty, keeps only this user's events.
	UserID string
}

// Match reports whether e passes f.
func (f Filter) Match(e Event) bool {
	if f.UserID != "" && e.UserID != f.UserID {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if t == e.Type {
			return true
		}
	}
	return false
}

// MaxRead is the most events one Read returns.
const MaxRead = 1000

// ErrBadCursor means a cursor is not one the log could have made.
var ErrBadCursor = errors.New("events: malformed cursor")

// CursorTooOldError means the cursor lies before the oldest retained entry
// (trimmed by retention): events after it were lost to the reader. Oldest
// is the oldest cursor still available ("" when the log is empty).
type CursorTooOldError struct{ Oldest string }

func (e *CursorTooOldError) Error() string {
	return fmt.Sprintf("events: cursor is older than the oldest retained event (oldest cursor %q)", e.Oldest)
}

// Reader reads the log.
type Reader interface {
	// Read returns up to limit (1..MaxRead) events after the cursor after
	// ("" = from the oldest retained) that match f, oldest first, and next,
	// the cursor to resume from: that of the last entry looked at (which
	// may be later than the last event returned when f skipped entries),
	// or after itself when nothing follows. A cursor older than the oldest
	// retained entry is *CursorTooOldError; a malformed one ErrBadCursor.
	Read(ctx context.Context, after string, f Filter, limit int) (evs []Event, next string, err error)
	// Wait blocks until an entry after the cursor after exists, maxWait
	// has passed, or ctx ends (then it returns ctx's error). It sees
	// entries appended by any replica.
	Wait(ctx context.Context, after string, maxWait time.Duration) error
}

// Appender appends an event that is not part of a state change (a
// forwarded message). Events of state changes are appended by the store
// in the same atomic step as the change.
type Appender interface {
	Append(ctx context.Context, e Event) (Event, error)
}
