// Package store keeps tgnotify's state: link tokens, user↔chat links, the
// set of Telegram update ids already processed, the long-polling offset,
// the notification queue and the event log (events.Reader and
// events.Appender, events.go), whose events the state changes append in
// the same atomic step.
//
// Two implementations satisfy [Store]: [Redis] (production; several replicas
// can share one Redis) and [Memory] (the embedded default when no REDIS_URL is
// set; nothing survives a restart). Both pass the same contract suite in
// storetest.
//
//	st := store.NewMemory()
//	err := st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: "u1", ExpiresAt: exp})
//	link, err := st.ConsumeLinkToken(ctx, tok, chatID, "alice", time.Now())
package store

import (
	"context"
	"errors"
	"github.com/tgnotify/tgnotify/delivery"
	"time"
)

// Errors returned by Store implementations. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested record (link, live token) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTokenInvalid means a link token is unknown, already used or expired.
	ErrTokenInvalid = errors.New("link token unknown, used or expired")
	// ErrTokenWrongKind means a live link token was used in a chat of the
	// other kind (a private token in a group, a group token in a private
	// chat). The token is not consumed: the person can still open it
	// where it belongs.
	ErrTokenWrongKind = errors.New("link token is for another kind of chat")
	// ErrUnavailable wraps failures of the backing store (Redis down,
	// timeouts). It matches delivery.ErrUnavailable too (errors.Is), so
	// that the delivery package, which does not import store, recognises
	// the queue's failures.
	ErrUnavailable error = unavailableError{}
	// ErrLeaseLost is returned by SetPollOffsetLeased when the caller no
	// longer holds the poll lease.
	ErrLeaseLost = errors.New("lease lost")
)

// unavailableError is the type of ErrUnavailable.
type unavailableError struct{}

func (unavailableError) Error() string { return "store unavailable" }

// Is makes ErrUnavailable match delivery.ErrUnavailable.
func (unavailableError) Is(target error) bool { return target == delivery.ErrUnavailable }

// ChatKind is the kind of chat a link token is for and a link points at.
// The zero value is a private chat.
type ChatKind uint8

// Chat kinds.
const (
	// ChatPrivate is a private chat with the bot (a ?start= link).
	ChatPrivate ChatKind = iota
	// ChatGroup is a group or supergroup (a ?startgroup= link).
	ChatGroup
)

// String names the kind ("private", "group").
func (k ChatKind) String() string {
	if k == ChatGroup {
		return "group"
	}
	return "private"
}

// LinkToken is a single-use deep-link token minted for one application user.
type LinkToken struct {
	Token     string
	UserID    string
	ExpiresAt time.Time
	// Kind is the kind of chat the token may link (private by default).
	Kind ChatKind
}

// LinkChat is the chat a link token is used in.
type LinkChat struct {
	ID int64
	// Kind is the chat's kind; a token of another kind links nothing.
	Kind ChatKind
	// Username is the person's @username (who pressed Start).
	Username string
	// Title is a group's title (empty for a private chat).
	Title string
}

// Link binds an application user to the Telegram chat that pressed Start
// on the user's deep link: a private chat, or a group the bot was added to.
type Link struct {
	UserID   string
	ChatID   int64
	Username string
	LinkedAt time.Time
	// ChatKind is the kind of the linked chat.
	ChatKind ChatKind
	// ChatTitle is a group's title when it was linked; empty for a
	// private chat.
	ChatTitle string
}

// UpdateState is what the store remembers about a Telegram update id.
type UpdateState int

// Outcomes of [Store.ClaimUpdate].
const (
	// UpdateClaimed means the caller now owns the update and must process it,
	// then call CompleteUpdate (or ReleaseUpdate on failure).
	UpdateClaimed UpdateState = iota + 1
	// UpdateInProgress means another worker holds the claim right now.
	UpdateInProgress
	// UpdateDone means the update was processed before; skip it.
	UpdateDone
)

// Store is everything the service keeps. All methods are safe for concurrent
// use. Failures of the backing store are wrapped with ErrUnavailable.
type Store interface {
	// PutLinkToken stores tok until tok.ExpiresAt and makes it the user's
	// current live token (returned by UserLinkToken).
	PutLinkToken(ctx context.Context, tok LinkToken) error
	// UserLinkToken returns the user's current live token, or ErrNotFound
	// when there is none (never minted, used or expired).
	UserLinkToken(ctx context.Context, userID string) (LinkToken, error)
	// ConsumeLinkToken atomically deletes the token and links its user to
	// chatID (replacing any previous link of that user), appending
	// USER_LINKED (after USER_UNLINKED "relinked" when the user was linked
	// to another chat). It returns
	// ErrTokenInvalid when the token is unknown, used or expired, and then
	// changes nothing.
	ConsumeLinkToken(ctx context.Context, token string, chatID int64, username string, now time.Time) (Link, error)
	// ConsumeLinkTokenIn is ConsumeLinkToken for a chat of any kind: it
	// returns ErrTokenWrongKind, consuming nothing, when the token is for
	// the other kind of chat, and stores the chat's kind and title with the
	// link.
	ConsumeLinkTokenIn(ctx context.Context, token string, chat LinkChat, now time.Time) (Link, error)
	// GetLink returns the user's link or ErrNotFound.
	GetLink(ctx context.Context, userID string) (Link, error)
	// UpdateChatID moves every link of chat oldID to newID (a group migrated
	// to a supergroup). It returns the user ids whose link moved.
	UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error)
	// Unlink removes the user's link. It returns ErrNotFound when the user
	// was not linked.
	Unlink(ctx context.Context, userID string) error
	// UnlinkUser is the application's Unlink: it removes the user's link
	// and, in the same step, appends USER_UNLINKED reason "app" and marks
	// the user so that the notifications still queued for them fail
	// "unlinked". wasLinked is false, nothing changing, when the user was
	// not linked.
	UnlinkUser(ctx context.Context, userID string) (chatID int64, wasLinked bool, err error)
	// UnlinkFromChat removes the user's link only while it points at
	// chatID (compare-and-delete, atomic), so that a verdict about one chat
	// (a 403 from it) cannot remove a link the user made to another chat
	// since, appending USER_UNLINKED "blocked" ("removed" for a group, a
	// negative id). It returns ErrNotFound, changing nothing, when the
	// user is not linked to chatID.
	UnlinkFromChat(ctx context.Context, userID string, chatID int64) error
	// UnlinkChat removes every link to chatID and returns the user ids that
	// were unlinked (empty when none), appending USER_UNLINKED with reason
	// (events.ReasonStop, events.ReasonBlocked or events.ReasonRemoved) for each.
	UnlinkChat(ctx context.Context, chatID int64, reason string) ([]string, error)

	// ClaimUpdate records that update id is being processed. A claim lapses
	// after claimTTL so a crashed worker's update is processed again.
	ClaimUpdate(ctx context.Context, updateID int64, claimTTL time.Duration) (UpdateState, error)
	// CompleteUpdate marks the update processed and remembers it for keep.
	CompleteUpdate(ctx context.Context, updateID int64, keep time.Duration) error
	// ReleaseUpdate drops a claim so that a redelivery is processed again.
	ReleaseUpdate(ctx context.Context, updateID int64) error

	// PollOffset returns the saved getUpdates offset (0 when none).
	PollOffset(ctx context.Context) (int64, error)
	// SetPollOffset saves the getUpdates offset.
	SetPollOffset(ctx context.Context, offset int64) error

	// AcquireLease takes the named lease for holder, or renews it when
	// holder already has it, for ttl. It reports whether holder holds the
	// lease now. A lease lets exactly one replica do a job (long polling).
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// SetPollOffsetLeased saves the getUpdates offset only while holder
	// holds the lease (a fencing check); otherwise it returns ErrLeaseLost.
	SetPollOffsetLeased(ctx context.Context, lease, holder string, offset int64) error

	// Ping reports whether the backing store is reachable.
	Ping(ctx context.Context) error
	// Close releases resources.
	Close() error
}
