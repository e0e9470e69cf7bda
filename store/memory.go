package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tgnotify/tgnotify/events"
)

// sweepInterval is how often Memory drops expired tokens and update records
// so that a long-running process does not grow without bound.
const sweepInterval = time.Minute

// errEmptyToken is returned when a LinkToken lacks its token or user id.
var errEmptyToken = errors.New("store: link token needs a token and a user id")

// errBadTTL is returned for a non-positive claim or keep duration.
var errBadTTL = errors.New("store: TTL must be positive")

// Memory is an in-process [Store]. It keeps everything in maps guarded by a
// mutex, honours expiry lazily (expired entries behave as absent and are
// swept periodically) and loses all state when the process exits. The zero
// value is not usable; call [NewMemory] or [NewMemoryWithClock].
type Memory struct {
	now func() time.Time

	memGuard
	tokens    map[string]LinkToken      // token → token record
	userToken map[string]string         // userID → current token
	links     map[string]Link           // userID → link
	chats     map[int64]map[string]bool // chatID → set of userIDs
	updates   map[int64]updateRecord    // update id → state
	offset    int64
	leases    map[string]leaseRecord // lease name → holder
	queue     *MemoryQueue           // see Queue
	ev        *memEvents             // the event log (events_memory.go)
	unlinked  map[string]time.Time   // userID → expiry of its UnlinkUser marker

	// evhookCursor is the event webhook's cursor (nil: never stored).
	evhookCursor *string
}

// updateRecord is what Memory remembers about one update id.
type updateRecord struct {
	state   UpdateState // UpdateInProgress or UpdateDone
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store using the wall clock.
func NewMemory() *Memory {
	return NewMemoryWithClock(time.Now)
}

// NewMemoryWithClock returns an empty in-process store that reads the current
// time from now, which lets tests control expiry. A nil now means time.Now.
func NewMemoryWithClock(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{
		now:       now,
		memGuard:  memGuard{lastSweep: now()},
		tokens:    make(map[string]LinkToken),
		userToken: make(map[string]string),
		links:     make(map[string]Link),
		chats:     make(map[int64]map[string]bool),
		updates:   make(map[int64]updateRecord),
		leases:    make(map[string]leaseRecord),
		ev:        newMemEvents(),
		unlinked:  make(map[string]time.Time),
	}
	m.queue = newMemoryQueue(now, m)
	return m
}

// lock takes the mutex after checking ctx and the closed flag. On success the
// caller must unlock m.mu and receives the current time.
func (m *Memory) lock(ctx context.Context, op string) (time.Time, error) {
	return m.memGuard.lock(ctx, op, "memory store", m.now, m.sweep)
}

// sweep drops expired entries. m.mu must be held.
func (m *Memory) sweep(now time.Time) {
	for tok, lt := range m.tokens {
		if !now.Before(lt.ExpiresAt) {
			delete(m.tokens, tok)
		}
	}
	for user, tok := range m.userToken {
		if _, ok := m.tokens[tok]; !ok {
			delete(m.userToken, user)
		}
	}
	for id, rec := range m.updates {
		if !now.Before(rec.expires) {
			delete(m.updates, id)
		}
	}
	for user, exp := range m.unlinked {
		if !now.Before(exp) {
			delete(m.unlinked, user)
		}
	}
}

// liveToken returns the token record if it exists and has not expired,
// deleting it when expired. m.mu must be held.
func (m *Memory) liveToken(token string, now time.Time) (LinkToken, bool) {
	lt, ok := m.tokens[token]
	if !ok {
		return LinkToken{}, false
	}
	if !now.Before(lt.ExpiresAt) {
		delete(m.tokens, token)
		return LinkToken{}, false
	}
	return lt, true
}

// PutLinkToken stores tok until tok.ExpiresAt and makes it the user's current
// token. Tokens the user minted before stay valid until they expire.
func (m *Memory) PutLinkToken(ctx context.Context, tok LinkToken) error {
	if tok.Token == "" || tok.UserID == "" {
		return errEmptyToken
	}
	if _, err := m.lock(ctx, "put link token"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.tokens[tok.Token] = tok
	m.userToken[tok.UserID] = tok.Token
	return nil
}

// UserLinkToken returns the user's current live token or ErrNotFound.
func (m *Memory) UserLinkToken(ctx context.Context, userID string) (LinkToken, error) {
	now, err := m.lock(ctx, "user link token")
	if err != nil {
		return LinkToken{}, err
	}
	defer m.mu.Unlock()
	tok, ok := m.userToken[userID]
	if !ok {
		return LinkToken{}, fmt.Errorf("store: link token of user %q: %w", userID, ErrNotFound)
	}
	lt, ok := m.liveToken(tok, now)
	if !ok || lt.UserID != userID {
		delete(m.userToken, userID)
		return LinkToken{}, fmt.Errorf("store: link token of user %q: %w", userID, ErrNotFound)
	}
	return lt, nil
}

// ConsumeLinkToken atomically deletes the token and links its user to chatID,
// replacing any previous link of that user, and appends USER_LINKED (after
// USER_UNLINKED "relinked" when the user was linked to another chat); it
// clears the user's UnlinkUser marker.
func (m *Memory) ConsumeLinkToken(ctx context.Context, token string, chatID int64, username string, now time.Time) (Link, error) {
	return m.ConsumeLinkTokenIn(ctx, token, LinkChat{ID: chatID, Username: username}, now)
}

// ConsumeLinkTokenIn is ConsumeLinkToken for a chat of any kind; a token
// of the other kind is ErrTokenWrongKind and stays.
func (m *Memory) ConsumeLinkTokenIn(ctx context.Context, token string, chat LinkChat, now time.Time) (Link, error) {
	chatID, username := chat.ID, chat.Username
	clock, err := m.lock(ctx, "consume link token")
	if err != nil {
		return Link{}, err
	}
	defer m.mu.Unlock()
	lt, ok := m.liveToken(token, clock)
	if !ok {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	if lt.Kind != chat.Kind {
		return Link{}, fmt.Errorf("store: consume %s link token in a %s chat: %w", lt.Kind, chat.Kind, ErrTokenWrongKind)
	}
	delete(m.tokens, token)
	if m.userToken[lt.UserID] == token {
		delete(m.userToken, lt.UserID)
	}
	if old, ok := m.links[lt.UserID]; ok && old.ChatID != chatID {
		m.ev.append(unlinkedEvent(old, events.ReasonRelinked), clock)
	}
	m.removeLink(lt.UserID)
	delete(m.unlinked, lt.UserID)
	m.ev.append(events.Event{Type: events.TypeUserLinked, UserID: lt.UserID, ChatID: chatID, Username: username}, clock)
	link := Link{UserID: lt.UserID, ChatID: chatID, Username: username, LinkedAt: now,
		ChatKind: chat.Kind, ChatTitle: chatTitle(chat)}
	m.links[lt.UserID] = link
	set := m.chats[chatID]
	if set == nil {
		set = make(map[string]bool)
		m.chats[chatID] = set
	}
	set[lt.UserID] = true
	return link, nil
}

// removeLink deletes the user's link and chat index entry, reporting whether
// there was one. m.mu must be held.
func (m *Memory) removeLink(userID string) bool {
	old, ok := m.links[userID]
	if !ok {
		return false
	}
	delete(m.links, userID)
	if set := m.chats[old.ChatID]; set != nil {
		delete(set, userID)
		if len(set) == 0 {
			delete(m.chats, old.ChatID)
		}
	}
	return true
}

// GetLink returns the user's link or ErrNotFound.
func (m *Memory) GetLink(ctx context.Context, userID string) (Link, error) {
	if _, err := m.lock(ctx, "get link"); err != nil {
		return Link{}, err
	}
	defer m.mu.Unlock()
	link, ok := m.links[userID]
	if !ok {
		return Link{}, fmt.Errorf("store: link of user %q: %w", userID, ErrNotFound)
	}
	return link, nil
}

// UpdateChatID moves every link of chat oldID to newID and returns the moved
// user ids, sorted. The chat's backlog, pacing and lease in m's queue
// ([Memory.Queue]) move in the same step (see [MemoryQueue.Migrate]).
func (m *Memory) UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error) {
	return m.queue.migrateChat(ctx, oldID, newID, "", m.now())
}

// moveChatLocked moves every link of chat oldID to newID and returns the
// moved user ids, sorted. m.mu must be held.
func (m *Memory) moveChatLocked(oldID, newID int64) []string {
	users := sortedKeys(m.chats[oldID])
	if oldID == newID {
		return users
	}
	dst := m.chats[newID]
	if dst == nil && len(users) > 0 {
		dst = make(map[string]bool, len(users))
		m.chats[newID] = dst
	}
	for _, u := range users {
		link := m.links[u]
		link.ChatID = newID
		m.links[u] = link
		dst[u] = true
	}
	delete(m.chats, oldID)
	return users
}

// unlinkedEvent is the USER_UNLINKED of link with reason.
func unlinkedEvent(link Link, reason string) events.Event {
	return events.Event{Type: events.TypeUserUnlinked, UserID: link.UserID, ChatID: link.ChatID,
		Username: link.Username, Reason: reason}
}

// Unlink removes the user's link or returns ErrNotFound. It appends
// USER_UNLINKED reason "app" in the same step, but sets no marker (see
// UnlinkUser, the application's Unlink).
func (m *Memory) Unlink(ctx context.Context, userID string) error {
	_, ok, err := m.unlinkUser(ctx, userID, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: unlink user %q: %w", userID, ErrNotFound)
	}
	return nil
}

// UnlinkUser is the application's Unlink (see [Redis.UnlinkUser]): it
// removes the user's link, appends USER_UNLINKED reason "app" and marks
// the user so that the notifications still queued for them fail
// "unlinked", in one step; wasLinked false, nothing changed, when the user
// was not linked.
func (m *Memory) UnlinkUser(ctx context.Context, userID string) (chatID int64, wasLinked bool, err error) {
	return m.unlinkUser(ctx, userID, true)
}

func (m *Memory) unlinkUser(ctx context.Context, userID string, mark bool) (int64, bool, error) {
	clock, err := m.lock(ctx, "unlink")
	if err != nil {
		return 0, false, err
	}
	defer m.mu.Unlock()
	link, ok := m.links[userID]
	if !ok {
		return 0, false, nil
	}
	m.removeLink(userID)
	if mark {
		m.unlinked[userID] = clock.Add(m.EventOptions().Retention)
	}
	m.ev.append(unlinkedEvent(link, events.ReasonApp), clock)
	return link.ChatID, true, nil
}

// unlinkedByAppLocked reports whether the application unlinked user (its
// UnlinkUser marker is live). m.mu must be held.
func (m *Memory) unlinkedByAppLocked(user string, now time.Time) bool {
	exp, ok := m.unlinked[user]
	return ok && now.Before(exp)
}

// UnlinkFromChat removes the user's link only while it points at chatID,
// else returns ErrNotFound. It appends USER_UNLINKED reason "blocked" in
// the same step (its one use: the chat answered 403).
func (m *Memory) UnlinkFromChat(ctx context.Context, userID string, chatID int64) error {
	clock, err := m.lock(ctx, "unlink from chat")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	l, ok := m.links[userID]
	if !ok || l.ChatID != chatID || !m.removeLink(userID) {
		return fmt.Errorf("store: unlink user %q from chat %d: %w", userID, chatID, ErrNotFound)
	}
	m.ev.append(unlinkedEvent(l, blockedReason(chatID)), clock)
	return nil
}

// blockedReason is the USER_UNLINKED reason of a 403 from chat: the user
// blocked the bot in a private chat, the bot was removed from a group
// (negative ids).
func blockedReason(chat int64) string {
	if chat < 0 {
		return events.ReasonRemoved
	}
	return events.ReasonBlocked
}

// UnlinkChat removes every link to chatID and returns the unlinked user ids,
// sorted (empty, not nil, when none), appending one USER_UNLINKED with
// reason (events.ReasonStop, events.ReasonBlocked or events.ReasonRemoved) per user.
func (m *Memory) UnlinkChat(ctx context.Context, chatID int64, reason string) ([]string, error) {
	if err := checkUnlinkReason(reason); err != nil {
		return nil, err
	}
	clock, err := m.lock(ctx, "unlink chat")
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	users := sortedKeys(m.chats[chatID])
	for _, u := range users {
		m.ev.append(unlinkedEvent(m.links[u], reason), clock)
		delete(m.links, u)
	}
	delete(m.chats, chatID)
	return users, nil
}

// sortedKeys returns the keys of set in ascending order, never nil.
func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ClaimUpdate claims update id for claimTTL unless it is already claimed or
// done.
func (m *Memory) ClaimUpdate(ctx context.Context, updateID int64, claimTTL time.Duration) (UpdateState, error) {
	if claimTTL <= 0 {
		return 0, fmt.Errorf("store: claim update %d: %w", updateID, errBadTTL)
	}
	now, err := m.lock(ctx, "claim update")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if rec, ok := m.updates[updateID]; ok && now.Before(rec.expires) {
		return rec.state, nil
	}
	m.updates[updateID] = updateRecord{state: UpdateInProgress, expires: now.Add(claimTTL)}
	return UpdateClaimed, nil
}

// CompleteUpdate marks the update done and remembers it for keep.
func (m *Memory) CompleteUpdate(ctx context.Context, updateID int64, keep time.Duration) error {
	if keep <= 0 {
		return fmt.Errorf("store: complete update %d: %w", updateID, errBadTTL)
	}
	now, err := m.lock(ctx, "complete update")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.updates[updateID] = updateRecord{state: UpdateDone, expires: now.Add(keep)}
	return nil
}

// ReleaseUpdate drops a live claim; a done record is left alone.
func (m *Memory) ReleaseUpdate(ctx context.Context, updateID int64) error {
	if _, err := m.lock(ctx, "release update"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if rec, ok := m.updates[updateID]; ok && rec.state == UpdateInProgress {
		delete(m.updates, updateID)
	}
	return nil
}

// PollOffset returns the saved getUpdates offset (0 when none).
func (m *Memory) PollOffset(ctx context.Context) (int64, error) {
	if _, err := m.lock(ctx, "poll offset"); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	return m.offset, nil
}

// SetPollOffset saves the getUpdates offset.
func (m *Memory) SetPollOffset(ctx context.Context, offset int64) error {
	if _, err := m.lock(ctx, "set poll offset"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.offset = offset
	return nil
}

// Ping reports ErrUnavailable once the store is closed or ctx is done.
func (m *Memory) Ping(ctx context.Context) error {
	if _, err := m.lock(ctx, "ping"); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Close drops all state; later calls fail with ErrUnavailable. Closing twice
// is harmless.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	clear(m.tokens)
	clear(m.userToken)
	clear(m.links)
	clear(m.chats)
	clear(m.updates)
	clear(m.unlinked)
	m.ev.mu.Lock()
	m.ev.entries = nil
	m.ev.mu.Unlock()
	return nil
}
