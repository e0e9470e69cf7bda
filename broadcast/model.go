// Package broadcast sends one message to many users without delaying
// transactional traffic. A broadcast is stored once (the message and a
// compact list of recipient ids, see the store); the [Runner] loop of
// every replica expands it lazily into ordinary notifications in the
// recipients' chat backlogs, a few at a time (its window, about a tenth of a
// second of its rate), at the broadcast's rate. Per-chat order, pacing,
// retries and the 403 unlink are thus the queue's; the global limit's
// slots go first to whatever is due, and a broadcast never holds more than
// its window of them, so a transactional notification waits behind at
// most that window. The expansion is one atomic store step (recipients
// taken off the list and queued together), so a crash loses or doubles no
// recipient, and any number of replicas may run it at once.
package broadcast

import (
	"time"

	"github.com/tgnotify/tgnotify/delivery"
)

// MaxRecipients is the most user ids one Broadcast call may name.
const MaxRecipients = 100_000

// State is a broadcast's lifecycle state. The numbers match
// notifier.v1.BroadcastState.
type State int

// Broadcast states.
const (
	StateRunning   State = 1
	StateDone      State = 2
	StateCancelled State = 3
)

// Message is what every recipient is sent: a notification without
// recipient (Parts already split; ParseMode, DisableNotification, Media,
// Buttons).
type Message = delivery.Notification

// New is a broadcast to create.
type New struct {
	// Message is the message (its Parts planned by delivery.PlanParts).
	Message Message
	// UserIDs are the recipients, distinct, in order; ignored with
	// AllLinked (every user linked at the moment of the call).
	UserIDs   []string
	AllLinked bool
	// IdempotencyKey, when set, makes a repeated call return the first
	// broadcast; IdempotencyTTL is how long it is remembered.
	IdempotencyKey string
	IdempotencyTTL time.Duration
	// Rate is the sends per second; Paid sends with allow_paid_broadcast.
	Rate float64
	Paid bool
	// CreatedAt is the time of the call.
	CreatedAt time.Time
	// Retention is how long the broadcast (its counts and failures) is
	// kept after it finished.
	Retention time.Duration
}

// Broadcast is a broadcast's state and counts (of recipients, not parts).
type Broadcast struct {
	ID    string
	State State
	// Recipients = Sent + Failed + Cancelled + Pending.
	Recipients, Sent, Failed, Cancelled int64
	// FailuresByReason counts the failed recipients by the notification
	// failure reason (delivery.ReasonBlocked, ...).
	FailuresByReason map[string]int64
	// CreatedAt is when it was accepted; StartedAt when the first
	// recipient was expanded; FinishedAt when it became DONE or CANCELLED
	// (zero until then).
	CreatedAt, StartedAt, FinishedAt time.Time
	// Rate and Paid are the request's.
	Rate float64
	Paid bool
}

// Pending is the number of recipients not yet sent, failed or cancelled.
func (b Broadcast) Pending() int64 {
	return max(b.Recipients-b.Sent-b.Failed-b.Cancelled, 0)
}

// Failure is one recipient that failed.
type Failure struct {
	UserID, Reason string
}

// Created is the answer to a create: the broadcast's id and its number of
// recipients; Existed when an idempotency key returned an earlier one.
type Created struct {
	ID         string
	Recipients int64
	Existed    bool
}

// Expansion is the answer to one expansion step: how many recipients it
// queued (Queued) or failed unsent (not linked), and, when it expanded
// nothing because the rate has no room, how long until it has (Wait).
// Finished means nothing is left to expand (or the broadcast ended).
type Expansion struct {
	Queued, Failed int
	Wait           time.Duration
	Finished       bool
}
