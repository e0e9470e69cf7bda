package delivery

// The delivery model: the records, claims and outcomes that the dispatcher
// and the queues it works on ([Queue]) exchange. The store package
// implements the queue (Redis and in memory) on these types.

import (
	"errors"
	"time"
)

// Errors of a [Queue]. Callers test them with errors.Is.
var (
	// ErrLeaseLost is returned by the settle operations of a queue when
	// the caller's lease on the chat was taken over (it expired and
	// another worker claimed the chat) or released: the caller must drop
	// its work.
	ErrLeaseLost = errors.New("lease lost")
	// ErrBacklogFull means the user has EnqueueOptions.MaxUserBacklog
	// notifications queued already (the service answers
	// RESOURCE_EXHAUSTED, HTTP 429, with a RetryInfo).
	ErrBacklogFull = errors.New("user's backlog is full")
	// ErrQueueFull means the whole queue holds EnqueueOptions.MaxQueued
	// notifications.
	ErrQueueFull = errors.New("notification queue is full")
	// ErrNotLinked means [Queue.EnqueueLinked] (hence
	// [Dispatcher.EnqueueLinked]) found no link for the user.
	ErrNotLinked = errors.New("delivery: user is not linked")
	// ErrUnavailable is wrapped by every failure of the backing store
	// (Redis down, timeouts, a closed memory store): nothing was done, or
	// for a settle the outcome may not have been recorded. The store's own
	// store.ErrUnavailable matches it too.
	ErrUnavailable = errors.New("queue unavailable")
)

// NotificationState is the delivery state of a notification. The numbers
// match notifier.v1.NotificationState.
type NotificationState int

// Notification states.
const (
	// StateQueued means waiting to be sent (also between retries).
	StateQueued NotificationState = 1
	// StateSending means a worker holds it (or some of its parts are sent).
	StateSending NotificationState = 2
	// StateSent means Telegram accepted every part.
	StateSent NotificationState = 3
	// StateFailed means it failed for good; see FailureReason.
	StateFailed NotificationState = 4
	// StateCancelled means DeleteNotification retracted it before every
	// part was sent: the parts not sent are never sent (see edit.go).
	StateCancelled NotificationState = 5
)

// String returns "QUEUED", "SENDING", "SENT", "FAILED", "CANCELLED" or
// "UNSPECIFIED".
func (s NotificationState) String() string {
	switch s {
	case StateQueued:
		return "QUEUED"
	case StateSending:
		return "SENDING"
	case StateSent:
		return "SENT"
	case StateFailed:
		return "FAILED"
	case StateCancelled:
		return "CANCELLED"
	}
	return "UNSPECIFIED"
}

// Notification is the durable record of one accepted notification.
type Notification struct {
	// ID is the notification id returned by Notify.
	ID string
	// UserID is the application user it is for.
	UserID string
	// ChatID is the Telegram chat it is sent to (updated on migration).
	ChatID int64
	// Parts are the texts of the Telegram messages, already split, in order.
	// Once SENT the texts are dropped: Parts keeps its length, every part
	// "" (TextLen and TextSHA256 describe what was sent).
	Parts []string
	// TextLen is the total length in bytes of the parts; TextSHA256 the
	// hex SHA-256 of their concatenation. Set by the queue on enqueue.
	TextLen    int
	TextSHA256 string
	// ParseMode is the sendMessage parse_mode ("" for plain text).
	ParseMode string
	// DisableNotification sends silently.
	DisableNotification bool
	// PlainTextFallback resends a part without parse_mode when Telegram
	// cannot parse its entities.
	PlainTextFallback bool
	// DisableLinkPreview sends every part without a link preview
	// (link_preview_options {"is_disabled": true}).
	DisableLinkPreview bool
	// ProtectContent protects every part from forwarding and saving.
	ProtectContent bool
	// ReplyToID is the id of an earlier notification to the same user that
	// the first part replies to ("" for none). Its first message id is
	// read from that record when the first part is sent; an original that
	// failed, has no message or went to another chat is not replied to.
	ReplyToID string
	// Media, when its Kind is set, is sent as the first part: Parts[0] is
	// its caption ("" when the text did not fit the caption limit, or there
	// is none: the media goes alone and the text follows in Parts[1:]).
	Media Media
	// MediaFileID is the file_id Telegram returned for the media, once sent.
	MediaFileID string
	// Buttons is the inline keyboard sent with the last part (rows of
	// buttons; nil for none).
	Buttons [][]Button
	// CallbackAnswer is the toast shown when one of its callback buttons is
	// pressed ("" for none).
	CallbackAnswer string
	// Presses are the latest MaxPresses presses of its callback buttons,
	// oldest first (recorded by the store, see press.go).
	Presses []ButtonPress
	// TopicID is the forum topic of a group it is sent into
	// (message_thread_id; 0: the main chat).
	TopicID int64
	// NoTopicFallback fails it (ReasonTopicNotFound) rather than send it
	// to the group's main chat when the topic is gone or closed.
	NoTopicFallback bool
	// IdempotencyKey is the caller's key, if any.
	IdempotencyKey string
	// State is the delivery state.
	State NotificationState
	// Attempts counts sendMessage calls made for it.
	Attempts int
	// Retries counts temporary failures (5xx, network, timeouts; not 429s)
	// that were retried; it is what MaxAttempts bounds.
	Retries int
	// NextPart is the index of the first part not yet sent.
	NextPart int
	// MessageIDs are Telegram's message ids of the parts sent so far.
	MessageIDs []int64
	// LastError is the last error: Telegram's description or a transport
	// error.
	LastError string
	// FailureReason is a short machine-readable reason, set when FAILED.
	FailureReason string
	// Degraded says how delivery departed from the request: "",
	// DegradedParseEntities (a part was sent as plain text, its markup
	// stripped, because Telegram could not parse its entities) or
	// DegradedTopicFallback (sent to the group's main chat, the topic
	// being gone).
	Degraded string
	// CreatedAt is when it was accepted; UpdatedAt when it last changed.
	CreatedAt, UpdatedAt time.Time
	// Reply marks a bot reply (the welcome, the answers to /start and
	// /stop): it is queued at the head of its chat's backlog (behind a
	// notification whose first parts are sent already), sent without a
	// link check and counted in no user's summary. UserID may be empty.
	Reply bool
	// Broadcast is the id of the broadcast this notification is one
	// recipient of ("" for none): its end updates the broadcast's counts
	// instead of writing an event or the user's summary, and its record is
	// dropped once settled.
	Broadcast string
	// PaidBroadcast sends it with allow_paid_broadcast, in the slots of
	// the paid limit (Config.PaidBroadcastRate) instead of the global one
	// (a recipient of a paid broadcast).
	PaidBroadcast bool

	// The life after sending (edit.go): revision, edits and deletion.
	Changes
}

// MediaKind is the kind of a notification's media. The numbers match
// notifier.v1.MediaKind.
type MediaKind int

// Media kinds.
const (
	// MediaNone means no media.
	MediaNone MediaKind = 0
	// MediaPhoto is sent with sendPhoto.
	MediaPhoto MediaKind = 1
	// MediaDocument is sent with sendDocument.
	MediaDocument MediaKind = 2
)

// Media is a photo or document sent as a notification's first part, by
// URL or by a Telegram file_id (exactly one is set).
type Media struct {
	Kind        MediaKind
	URL, FileID string
}

// Source returns the photo/document parameter: the URL or the file_id.
func (m Media) Source() string {
	if m.URL != "" {
		return m.URL
	}
	return m.FileID
}

// Button is one inline keyboard button: Text and exactly one action (URL,
// Callback or CopyText). Callback is the application's string, kept by the
// service; Telegram sees only a short key in callback_data.
type Button struct {
	Text     string `json:"t"`
	URL      string `json:"u,omitempty"`
	Callback string `json:"c,omitempty"`
	CopyText string `json:"x,omitempty"`
}

// CloneButtons returns a deep copy of rows.
func CloneButtons(rows [][]Button) [][]Button {
	if rows == nil {
		return nil
	}
	out := make([][]Button, len(rows))
	for i, r := range rows {
		out[i] = append([]Button(nil), r...)
	}
	return out
}

// IsMediaPart reports whether part i of n is its media (with Parts[i] as
// the caption).
func (n Notification) IsMediaPart(i int) bool {
	return i == 0 && n.Media.Kind != MediaNone
}

// Clone returns a deep copy of n (its slices are not shared).
func (n Notification) Clone() Notification {
	n.Parts = append([]string(nil), n.Parts...)
	n.MessageIDs = append([]int64(nil), n.MessageIDs...)
	n.Buttons = CloneButtons(n.Buttons)
	n.Presses = ClonePresses(n.Presses)
	return n
}

// EnqueueOptions are the storage policies of one enqueue.
type EnqueueOptions struct {
	// Retention is how long the record (and the user's summary) is kept
	// after its last change.
	Retention time.Duration
	// IdempotencyTTL is how long the idempotency key is remembered.
	IdempotencyTTL time.Duration
	// MaxUserBacklog and MaxQueued, when positive, refuse the enqueue
	// ([ErrBacklogFull], [ErrQueueFull]; nothing written) while the user has
	// that many notifications QUEUED or SENDING, or the whole queue has.
	MaxUserBacklog, MaxQueued int64
}

// Claim is a worker's lease on the head notification of one chat's
// backlog. Token fences the settle operations: after the lease was taken
// over they fail with [ErrLeaseLost].
type Claim struct {
	// ChatID is the claimed chat (the backlog's key).
	ChatID int64
	// Token is the fencing token of this lease.
	Token string
	// Notification is the head of the chat's backlog.
	Notification Notification
	// LeaseUntil is when the lease expires unless settled.
	LeaseUntil time.Time
	// LinkedChat is the chat the notification's user is linked to, read
	// in the same atomic step as the claim; 0 when not linked (and for a
	// reply, which is sent without a link check).
	LinkedChat int64
	// Reserved reports that the claim took a slot of ClaimOptions.Limit
	// for this notification, to be used after Wait. A claim reserves only
	// when the user is linked to the claimed chat and the notification is
	// younger than ClaimOptions.MaxAge (otherwise it fails unsent).
	Reserved bool
	Wait     time.Duration
	// Paused is set only on the Claim returned with ok false: the global
	// pause that prevented the claim (ClaimOptions.Limit given).
	Paused time.Duration
	// Throttled is set only on the Claim returned with ok false: the
	// global limit has no slot within ClaimOptions.MaxWait, so nothing was
	// claimed and no slot taken; one may be had after Throttled.
	Throttled time.Duration
}

// RateLimit names a GCRA limit: up to Burst at once, Rate per second.
type RateLimit struct {
	Name  string
	Rate  float64
	Burst int
}

// ClaimOptions are the parameters of a claim.
type ClaimOptions struct {
	// Lease is how long the claim holds the chat; Retention how long the
	// claimed record is kept from now.
	Lease, Retention time.Duration
	// Limit, when its Rate is positive, makes the claim honour the global
	// pause (claiming nothing while it lasts; see Claim.Paused) and reserve
	// a slot of the named limit for the claimed notification (see
	// Claim.Reserved), in the same atomic step, in the budget that the
	// queue's [Limiter] methods use.
	Limit RateLimit
	// MaxAge is the age from which a notification reserves no slot (it
	// is failed unsent); 0 means no bound.
	MaxAge time.Duration
	// MaxWait (with Limit) is the longest wait for a slot a claim may
	// take: when the next slot is further away the claim takes neither a
	// chat nor a slot and reports Claim.Throttled. A slot is never taken
	// that its claim cannot use within its lease, so reaching the limit
	// never costs throughput. 0 means no bound.
	MaxWait time.Duration
}

// OutcomeKind says how a claimed notification is settled.
type OutcomeKind int

// Outcome kinds.
const (
	// OutcomePartSent records MessageID for the next part; the notification
	// becomes SENT and leaves the backlog when it was the last part.
	OutcomePartSent OutcomeKind = iota + 1
	// OutcomeRetry keeps the notification at the head of the backlog, back
	// in QUEUED, with LastError.
	OutcomeRetry
	// OutcomeFail marks it FAILED with Reason and LastError and removes it
	// from the backlog.
	OutcomeFail
	// OutcomeRelease gives the lease back without other change (shutdown,
	// global pause).
	OutcomeRelease
	// OutcomeOp settles an edit or delete operation of a sent notification
	// (Outcome.Op; see edit.go).
	OutcomeOp
)

// Outcome settles a claim: it updates the record, releases the lease and
// reschedules the chat at NextAt if its backlog is not empty.
type Outcome struct {
	Kind OutcomeKind
	// MessageID is Telegram's id of the part sent (OutcomePartSent).
	MessageID int64
	// Attempts is added to the record's attempt count (sendMessage calls
	// made during this claim).
	Attempts int
	// Retries is added to the record's retry count.
	Retries int
	// LastError replaces the record's last error when not empty.
	LastError string
	// Reason is the failure reason (OutcomeFail).
	Reason string
	// Degraded, when not empty, is recorded as the notification's Degraded
	// (OutcomePartSent: the part went out degraded).
	Degraded string
	// MediaFileID, when not empty, is recorded as the notification's
	// MediaFileID (OutcomePartSent of the media part).
	MediaFileID string
	// NextAt is when the chat may be claimed again.
	NextAt time.Time
	// Op is the result of an edit or delete operation (OutcomeOp).
	Op OpOutcome
}

// UserSummary is the per-user delivery summary: counts over the records
// accepted within the retention window and the last notification.
type UserSummary struct {
	// Queued counts notifications QUEUED or SENDING.
	Queued int64
	// Sent and Failed count finished notifications.
	Sent, Failed int64
	// LastID is the most recently accepted notification ("" when none).
	LastID string
	// LastState, LastUpdatedAt and LastError describe it (zero when the
	// record expired).
	LastState     NotificationState
	LastUpdatedAt time.Time
	LastError     string
}
