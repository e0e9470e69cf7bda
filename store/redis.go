package store

// Redis is the Store in Redis: links and link tokens, update claims and
// the poll offset, here; the notification queue (queue_redis.go), the rate
// limiter (limiter_redis.go) and named leases (lease_redis.go) share its
// client and prefix. The key layout is in keys.go, the scripts in
// store/lua (scripts.go). Multi-key operations run as Lua scripts, so they
// are atomic; with a hash-tagged prefix they work on a Redis Cluster too
// (keys.go).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the key prefix NewRedis uses when given "".
const DefaultRedisPrefix = "tgn"

// openPingTimeout bounds the initial PING of OpenRedis.
const openPingTimeout = 5 * time.Second

// Values stored under <p>:upd:<id>.
const (
	updProcessing = "p"
	updDone       = "d"
)

// Redis is a [Store] backed by Redis. Several processes may share one Redis
// through the same prefix. Create it with [NewRedis].
type Redis struct {
	client redis.UniversalClient
	prefix string

	putToken   *redis.Script
	userToken  *redis.Script
	consume    *oomScript
	unlink     *redis.Script
	unlinkChat *redis.Script
	unlinkFrom *redis.Script
	migrate    *oomScript
	claim      *oomScript
	// The event log (events_redis.go): its bounds and scripts.
	ev               EventOptions
	evRead, evAppend *redis.Script
	watch            eventWatch // Wait's shared XREAD loop (events_wait_redis.go)
	release          *oomScript
	complete         *oomScript
	// Named leases (lease_redis.go).
	acquireLease, releaseLease, fencedOffset *redis.Script
	// waitReplicas and waitTimeout: see SetWaitReplicas (wait_redis.go).
	waitReplicas     int
	waitTimeout      time.Duration
	scriptFlagsState // oom_redis.go
	closeOnce        sync.Once
	closeResult      error
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store that keeps its keys under prefix (DefaultRedisPrefix
// when empty) in the Redis reached by client. When client is a
// *redis.ClusterClient and prefix has no hash tag, the prefix is wrapped in
// one ("tgn" becomes "{tgn}") so that every key is in one hash slot. The
// Store owns client: Close closes it.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	if _, ok := client.(*redis.ClusterClient); ok && !hasHashTag(prefix) {
		prefix = "{" + prefix + "}"
	}
	r := &Redis{
		client:     client,
		prefix:     prefix,
		putToken:   loadScript("link_token_put"),
		userToken:  loadScript("link_token_get"),
		unlink:     loadScript("unlink"),
		unlinkChat: loadScript("unlink_chat"),
		unlinkFrom: loadScript("unlink_from_chat"),
		ev:         EventOptions{}.resolved(),
		evRead:     loadScript("events_read"),
		evAppend:   loadScript("events_append"),

		acquireLease: loadScript("lease_acquire"),
		releaseLease: loadScript("lease_release"),
		fencedOffset: loadScript("poll_offset_fenced"),
	}
	r.consume, r.claim = newOOMScript(r, "link_token_consume"), newOOMScript(r, "update_claim")
	r.release, r.complete = newOOMScript(r, "update_release"), newOOMScript(r, "update_complete")
	r.migrate = newOOMScript(r, "migrate_chat")
	return r
}

// OpenRedis connects to the Redis named by rawURL and pings it within a
// bounded time. rawURL takes one of these forms:
//
//	redis://[user:password@]host[:port][/db]          one node (rediss:// for TLS)
//	unix://[user:password@]/path/to/redis.sock[?db=N]  one node over a Unix socket
//	redis-sentinel://[user:password@]host:port[,host:port...]/<master-name>[?db=N&sentinel_password=...&sentinel_username=...]
//	                                                  the primary of a Sentinel set (rediss-sentinel:// for TLS)
//	redis-cluster://[user:password@]host:port[,host:port...]
//	                                                  a Redis Cluster (rediss-cluster:// for TLS)
//
// For Sentinel the hosts are the sentinels (default port 26379), user and
// password authenticate to the Redis nodes, sentinel_password (and
// sentinel_username) to the sentinels. For Cluster the hosts are seed nodes
// (default port 6379) and there is no database number. go-redis query
// options such as dial_timeout=2s are honoured in every form; more addresses
// may also be given as addr=host:port query parameters (needed for IPv6
// literals). A Cluster needs the hash-tagged key prefix: give [NewRedis] the
// prefix [KeyPrefix] returns for rawURL.
//
// The returned client is a *redis.Client for a single node or Sentinel
// (redis.NewFailoverClient) and a *redis.ClusterClient for a Cluster; the
// caller owns it. Errors never contain a password; ping failures wrap
// ErrUnavailable.
func OpenRedis(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	t, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := t.newClient()
	pingCtx, cancel := context.WithTimeout(ctx, openPingTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		if msg := t.redact(err.Error()); msg != err.Error() {
			return nil, fmt.Errorf("store: ping redis %s: %w: %s", t.where, ErrUnavailable, msg)
		}
		return nil, fmt.Errorf("store: ping redis %s: %w: %w", t.where, ErrUnavailable, err)
	}
	return client, nil
}

// unavailable wraps a Redis failure of operation op.
func unavailable(op string, err error) error {
	return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
}

// PutLinkToken stores tok until tok.ExpiresAt and makes it the user's current
// token. Tokens the user minted before stay valid until they expire. An
// ExpiresAt in the past stores nothing and clears the user's current token.
func (r *Redis) PutLinkToken(ctx context.Context, tok LinkToken) error {
	if tok.Token == "" || tok.UserID == "" {
		return errEmptyToken
	}
	ttl := time.Until(tok.ExpiresAt).Milliseconds()
	keys := []string{r.tokenKey(tok.Token), r.userTokenKey(tok.UserID)}
	err := r.putToken.Run(ctx, r.client, keys, tok.UserID, tok.Token, tok.ExpiresAt.UnixMilli(), ttl, tokenKind(tok.Kind)).Err()
	if err != nil {
		return unavailable("put link token", err)
	}
	return nil
}

// UserLinkToken returns the user's current live token or ErrNotFound, also
// when the pointer survives but the token is gone.
func (r *Redis) UserLinkToken(ctx context.Context, userID string) (LinkToken, error) {
	res, err := r.userToken.Run(ctx, r.client, []string{r.userTokenKey(userID)}, r.prefix, userID).StringSlice()
	if errors.Is(err, redis.Nil) {
		return LinkToken{}, fmt.Errorf("store: link token of user %q: %w", userID, ErrNotFound)
	}
	if err != nil {
		return LinkToken{}, unavailable("user link token", err)
	}
	if len(res) != 3 {
		return LinkToken{}, unavailable("user link token", fmt.Errorf("unexpected script reply %q", res))
	}
	exp, err := strconv.ParseInt(res[1], 10, 64)
	if err != nil {
		return LinkToken{}, unavailable("user link token", fmt.Errorf("corrupt expiry: %w", err))
	}
	return LinkToken{Token: res[0], UserID: userID, ExpiresAt: time.UnixMilli(exp), Kind: parseKind(res[2])}, nil
}

// tokenKind is a token's kind as its hash's "kind" field ("" for private).
func tokenKind(k ChatKind) string {
	if k == ChatGroup {
		return "g"
	}
	return ""
}

// parseKind reads a stored kind ("g": group; anything else: private).
func parseKind(s string) ChatKind {
	if s == "g" {
		return ChatGroup
	}
	return ChatPrivate
}

// chatTitle is the title stored with a link to chat: a group's only.
func chatTitle(chat LinkChat) string {
	if chat.Kind != ChatGroup {
		return ""
	}
	return chat.Title
}

// ConsumeLinkToken atomically deletes the token, clears the user's current
// token pointer if it names this token, replaces the user's previous link and
// links the user to chatID. LinkedAt keeps millisecond precision. In the
// same step it appends USER_LINKED, preceded by USER_UNLINKED reason
// "relinked" (with the old chat) when the user was linked to another chat,
// and clears the user's UnlinkUser marker.
func (r *Redis) ConsumeLinkToken(ctx context.Context, token string, chatID int64, username string, now time.Time) (Link, error) {
	return r.ConsumeLinkTokenIn(ctx, token, LinkChat{ID: chatID, Username: username}, now)
}

// ConsumeLinkTokenIn is ConsumeLinkToken for a chat of any kind: a token
// of the other kind is ErrTokenWrongKind and stays (link_token_consume.lua
// checks the kind before it deletes anything).
func (r *Redis) ConsumeLinkTokenIn(ctx context.Context, token string, chat LinkChat, now time.Time) (Link, error) {
	chatID, username, title := chat.ID, chat.Username, chatTitle(chat)
	if token == "" {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	keys := append([]string{r.tokenKey(token)}, r.chatKeys(chatID)...)
	keys = append(keys, r.eventsKey())
	args := []any{r.prefix, token, strconv.FormatInt(chatID, 10),
		packLink(chatID, now.UnixMilli(), username, chat.Kind, title)}
	args = append(args, r.evArgs()...)
	args = append(args, tokenKind(chat.Kind))
	var cmd *redis.Cmd
	var waitErr error
	if r.waitReplicas > 0 {
		cmd, waitErr = r.evalWait(ctx, "consume link token", r.consume.pick(ctx), keys, args...)
	} else {
		cmd = r.consume.Run(ctx, r.client, keys, args...)
	}
	res, err := cmd.Result()
	if err == nil && waitErr != nil {
		return Link{}, waitErr
	}
	if errors.Is(err, redis.Nil) {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	if err != nil {
		return Link{}, unavailable("consume link token", err)
	}
	user, ok := res.(string)
	if !ok {
		// The script answers 0 for a token of the other kind.
		return Link{}, fmt.Errorf("store: consume link token in a %s chat: %w", chat.Kind, ErrTokenWrongKind)
	}
	return Link{UserID: user, ChatID: chatID, Username: username, LinkedAt: time.UnixMilli(now.UnixMilli()),
		ChatKind: chat.Kind, ChatTitle: title}, nil
}

// packLink is a link as stored in its bucket: "chatID|linked_at ms|username"
// for a private chat, "chatID|linked_at ms:g:<title bytes>:<title>|username"
// for a group (lib/link.lua reads both). The username is last and the title
// length-prefixed, so either may contain "|".
func packLink(chat, linkedAt int64, username string, kind ChatKind, title string) string {
	s := strconv.FormatInt(chat, 10) + "|" + strconv.FormatInt(linkedAt, 10)
	if kind == ChatGroup {
		s += ":g:" + strconv.Itoa(len(title)) + ":" + title
	}
	return s + "|" + username
}

// parseLink reads a packed link (see packLink).
func parseLink(userID, v string) (Link, error) {
	chatS, rest, _ := strings.Cut(v, "|")
	chat, err := strconv.ParseInt(chatS, 10, 64)
	if err != nil {
		return Link{}, fmt.Errorf("corrupt chat id: %w", err)
	}
	link := Link{UserID: userID, ChatID: chat}
	end := strings.IndexAny(rest, ":|")
	if end < 0 {
		end = len(rest)
	}
	if ms, err := strconv.ParseInt(rest[:end], 10, 64); err == nil {
		link.LinkedAt = time.UnixMilli(ms)
	}
	rest = rest[end:]
	if group, ok := strings.CutPrefix(rest, ":g:"); ok {
		nS, after, _ := strings.Cut(group, ":")
		n, err := strconv.Atoi(nS)
		if err != nil || n < 0 || n > len(after) {
			return Link{}, fmt.Errorf("corrupt group title in link %q", v)
		}
		link.ChatKind, link.ChatTitle, rest = ChatGroup, after[:n], after[n:]
	}
	link.Username, _ = strings.CutPrefix(rest, "|")
	return link, nil
}

// GetLink returns the user's link or ErrNotFound.
func (r *Redis) GetLink(ctx context.Context, userID string) (Link, error) {
	v, err := r.client.HGet(ctx, r.linkKey(userID), userID).Result()
	if errors.Is(err, redis.Nil) {
		return Link{}, fmt.Errorf("store: link of user %q: %w", userID, ErrNotFound)
	}
	if err != nil {
		return Link{}, unavailable("get link", err)
	}
	link, err := parseLink(userID, v)
	if err != nil {
		return Link{}, unavailable("get link", err)
	}
	return link, nil
}

// UpdateChatID moves every link of chat oldID to newID and returns the moved
// user ids in no particular order. In the same atomic step it moves the
// chat's notification backlog, pacing and lease (see migrate_redis.go):
// the queue of r ([Redis.Queue]) shares r's keys. It fails with
// ErrMigrationBusy, changing nothing, when both chats have a send in
// flight.
func (r *Redis) UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error) {
	return r.migrateChat(ctx, oldID, newID, "", time.Now())
}

// Unlink removes the user's link or returns ErrNotFound. It appends
// USER_UNLINKED reason "app" in the same step, but sets no marker (see
// UnlinkUser, the application's Unlink).
func (r *Redis) Unlink(ctx context.Context, userID string) error {
	_, ok, err := r.unlinkUser(ctx, userID, 0)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: unlink user %q: %w", userID, ErrNotFound)
	}
	return nil
}

// UnlinkUser is the application's Unlink: it removes the user's link,
// appends USER_UNLINKED reason "app" and marks the user unlinked by the
// application (for EventOptions.Retention, until the user links again), in
// one step. The notifications of the user still queued then fail
// "unlinked" (ReasonUnlinked) when a worker claims them, instead of
// "not_linked"; none is sent to the chat (a send already in flight when
// UnlinkUser runs may still arrive). It returns the chat the user was
// linked to; wasLinked is false, and nothing changes, when the user was not
// linked (idempotent).
func (r *Redis) UnlinkUser(ctx context.Context, userID string) (chatID int64, wasLinked bool, err error) {
	return r.unlinkUser(ctx, userID, ttlMillis(r.ev.Retention))
}

// unlinkUser runs unlink.lua with the marker TTL markerMs (0: none).
func (r *Redis) unlinkUser(ctx context.Context, userID string, markerMs int64) (int64, bool, error) {
	keys := []string{r.linkKey(userID), r.eventsKey(), r.unlinkedKey(userID)}
	args := append([]any{r.prefix, userID}, r.evArgs()...)
	chat, err := r.unlink.Run(ctx, r.client, keys, append(args, markerMs)...).Text()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, unavailable("unlink", err)
	}
	id, err := strconv.ParseInt(chat, 10, 64)
	if err != nil {
		return 0, false, unavailable("unlink", fmt.Errorf("corrupt chat id %q", chat))
	}
	return id, true, nil
}

// UnlinkFromChat removes the user's link only while it points at chatID,
// else returns ErrNotFound. It appends USER_UNLINKED reason "blocked" in
// the same step (its one use: the chat answered 403).
func (r *Redis) UnlinkFromChat(ctx context.Context, userID string, chatID int64) error {
	args := append([]any{r.prefix, userID, strconv.FormatInt(chatID, 10)}, r.evArgs()...)
	n, err := r.unlinkFrom.Run(ctx, r.client, []string{r.linkKey(userID), r.eventsKey()}, args...).Int()
	if err != nil {
		return unavailable("unlink from chat", err)
	}
	if n == 0 {
		return fmt.Errorf("store: unlink user %q from chat %d: %w", userID, chatID, ErrNotFound)
	}
	return nil
}

// UnlinkChat removes every link to chatID and returns the unlinked user ids
// in no particular order (empty, not nil, when none). It appends one
// USER_UNLINKED per user with reason (events.ReasonStop, events.ReasonBlocked or
// events.ReasonRemoved) in the same step.
func (r *Redis) UnlinkChat(ctx context.Context, chatID int64, reason string) ([]string, error) {
	if err := checkUnlinkReason(reason); err != nil {
		return nil, err
	}
	args := append([]any{r.prefix, strconv.FormatInt(chatID, 10), reason}, r.evArgs()...)
	users, err := r.unlinkChat.Run(ctx, r.client, append(r.chatKeys(chatID), r.eventsKey()), args...).StringSlice()
	if err != nil {
		return nil, unavailable("unlink chat", err)
	}
	if users == nil {
		users = []string{}
	}
	return users, nil
}

// ttlMillis converts d to whole milliseconds, at least 1.
func ttlMillis(d time.Duration) int64 {
	return max(d.Milliseconds(), 1)
}

// ClaimUpdate claims update id with SET NX PX claimTTL; when the key exists
// it reports UpdateDone ("d") or UpdateInProgress ("p").
func (r *Redis) ClaimUpdate(ctx context.Context, updateID int64, claimTTL time.Duration) (UpdateState, error) {
	if claimTTL <= 0 {
		return 0, fmt.Errorf("store: claim update %d: %w", updateID, errBadTTL)
	}
	n, err := r.claim.Run(ctx, r.client, []string{r.updateKey(updateID)}, ttlMillis(claimTTL)).Int()
	if err != nil {
		return 0, unavailable("claim update", err)
	}
	switch n {
	case 1:
		return UpdateClaimed, nil
	case 2:
		return UpdateInProgress, nil
	case 3:
		return UpdateDone, nil
	default:
		return 0, unavailable("claim update", fmt.Errorf("unexpected script reply %d", n))
	}
}

// CompleteUpdate marks the update done ("d") for keep.
func (r *Redis) CompleteUpdate(ctx context.Context, updateID int64, keep time.Duration) error {
	if keep <= 0 {
		return fmt.Errorf("store: complete update %d: %w", updateID, errBadTTL)
	}
	if err := r.complete.Run(ctx, r.client, []string{r.updateKey(updateID)}, ttlMillis(keep)).Err(); err != nil {
		return unavailable("complete update", err)
	}
	return nil
}

// ReleaseUpdate deletes the update's key only while it holds a claim ("p").
func (r *Redis) ReleaseUpdate(ctx context.Context, updateID int64) error {
	if err := r.release.Run(ctx, r.client, []string{r.updateKey(updateID)}).Err(); err != nil {
		return unavailable("release update", err)
	}
	return nil
}

// PollOffset returns the saved getUpdates offset (0 when none).
func (r *Redis) PollOffset(ctx context.Context) (int64, error) {
	n, err := r.client.Get(ctx, r.offsetKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("poll offset", err)
	}
	return n, nil
}

// SetPollOffset saves the getUpdates offset.
func (r *Redis) SetPollOffset(ctx context.Context, offset int64) error {
	if err := r.client.Set(ctx, r.offsetKey(), offset, 0).Err(); err != nil {
		return unavailable("set poll offset", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Close closes the Redis client. Later calls fail with ErrUnavailable; closing
// twice returns the first result.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		if err := r.client.Close(); err != nil {
			r.closeResult = fmt.Errorf("store: close redis: %w", err)
		}
	})
	return r.closeResult
}
