package store

// Redis key layout. <p> is the prefix given to NewRedis ("tgn" when empty).
//
//	<p>:lt:<token>           hash {user: userID, exp: expiry unix ms}; PX TTL until ExpiresAt
//	<p>:user:<userID>:lt     string: the user's current token; same TTL as its token
//	<p>:user:<userID>:link   hash {chat: chatID, username, linked_at: unix ms}; no TTL
//	<p>:chat:<chatID>:users  set of userIDs linked to chatID; no TTL
//	<p>:upd:<updateID>       string "p" (claimed, PX claimTTL) or "d" (done, PX keep)
//	<p>:poll:offset          string: decimal getUpdates offset; no TTL
//
// Multi-key operations run as Lua scripts, so they are atomic. The scripts
// derive some key names from values they read (the token's user, the link's
// chat). Redis Cluster allows that only while every key a script touches is
// in one hash slot: with a hash-tagged prefix such as "{tgn}"
// ([ClusterRedisPrefix], see [KeyPrefix]) every key above, and those of the
// queue, limiter and leases, hashes to the slot of "tgn". NewRedis adds the
// tag itself when given a *redis.ClusterClient and a prefix without one.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

	putToken    *redis.Script
	userToken   *redis.Script
	consume     *redis.Script
	unlink      *redis.Script
	unlinkChat  *redis.Script
	moveChat    *redis.Script
	claim       *redis.Script
	release     *redis.Script
	closeOnce   sync.Once
	closeResult error
}

var _ Store = (*Redis)(nil)

// putTokenScript writes the token hash and the user's pointer with the same
// TTL. KEYS: token key, pointer key. ARGV: user, token, exp ms, ttl ms. A
// non-positive ttl means the token is already expired: both keys are deleted.
const putTokenScript = `
local ttl = tonumber(ARGV[4])
if ttl <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'exp', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
return 1
`

// userTokenScript reads the user's current token. KEYS: pointer key. ARGV:
// prefix, user. Returns {token, exp ms} or nil.
const userTokenScript = `
local tok = redis.call('GET', KEYS[1])
if not tok then return false end
local rec = redis.call('HMGET', ARGV[1] .. ':lt:' .. tok, 'user', 'exp')
if not rec[1] or rec[1] ~= ARGV[2] then return false end
return {tok, rec[2]}
`

// consumeScript atomically consumes a token and links its user. KEYS: token
// key. ARGV: prefix, token, chat, username, linked_at ms. Returns the user id
// or nil when the token is unknown, used or expired.
const consumeScript = `
local p = ARGV[1]
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return false end
redis.call('DEL', KEYS[1])
local ptr = p .. ':user:' .. user .. ':lt'
if redis.call('GET', ptr) == ARGV[2] then redis.call('DEL', ptr) end
local lk = p .. ':user:' .. user .. ':link'
local old = redis.call('HGET', lk, 'chat')
if old then redis.call('SREM', p .. ':chat:' .. old .. ':users', user) end
redis.call('DEL', lk)
redis.call('HSET', lk, 'chat', ARGV[3], 'username', ARGV[4], 'linked_at', ARGV[5])
redis.call('SADD', p .. ':chat:' .. ARGV[3] .. ':users', user)
return user
`

// unlinkScript removes one user's link. KEYS: link key. ARGV: prefix, user.
// Returns 1, or 0 when the user was not linked.
const unlinkScript = `
local chat = redis.call('HGET', KEYS[1], 'chat')
if not chat then return 0 end
redis.call('SREM', ARGV[1] .. ':chat:' .. chat .. ':users', ARGV[2])
redis.call('DEL', KEYS[1])
return 1
`

// unlinkChatScript removes every link to a chat. KEYS: chat set key. ARGV:
// prefix, chat. Returns the unlinked user ids.
const unlinkChatScript = `
local out = {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lk = ARGV[1] .. ':user:' .. user .. ':link'
  if redis.call('HGET', lk, 'chat') == ARGV[2] then
    redis.call('DEL', lk)
    out[#out + 1] = user
  end
end
redis.call('DEL', KEYS[1])
return out
`

// moveChatScript moves every link of a chat to another chat id. KEYS: old
// set key, new set key. ARGV: prefix, old chat, new chat. Returns the moved
// user ids.
const moveChatScript = `
local out = {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lk = ARGV[1] .. ':user:' .. user .. ':link'
  if redis.call('HGET', lk, 'chat') == ARGV[2] then
    out[#out + 1] = user
    if ARGV[2] ~= ARGV[3] then
      redis.call('HSET', lk, 'chat', ARGV[3])
      redis.call('SADD', KEYS[2], user)
    end
  end
end
if ARGV[2] ~= ARGV[3] then redis.call('DEL', KEYS[1]) end
return out
`

// claimScript claims an update. KEYS: update key. ARGV: ttl ms. Returns 1
// (claimed), 2 (in progress) or 3 (done).
const claimScript = `
if redis.call('SET', KEYS[1], 'p', 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('GET', KEYS[1]) == 'd' then return 3 end
return 2
`

// releaseScript deletes an update key only while it holds a claim. KEYS:
// update key.
const releaseScript = `
if redis.call('GET', KEYS[1]) == 'p' then return redis.call('DEL', KEYS[1]) end
return 0
`

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
	return &Redis{
		client:     client,
		prefix:     prefix,
		putToken:   redis.NewScript(putTokenScript),
		userToken:  redis.NewScript(userTokenScript),
		consume:    redis.NewScript(consumeScript),
		unlink:     redis.NewScript(unlinkScript),
		unlinkChat: redis.NewScript(unlinkChatScript),
		moveChat:   redis.NewScript(moveChatScript),
		claim:      redis.NewScript(claimScript),
		release:    redis.NewScript(releaseScript),
	}
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

// Key builders; see the layout at the top of this file.

func (r *Redis) tokenKey(token string) string    { return r.prefix + ":lt:" + token }
func (r *Redis) userTokenKey(user string) string { return r.prefix + ":user:" + user + ":lt" }
func (r *Redis) linkKey(user string) string      { return r.prefix + ":user:" + user + ":link" }
func (r *Redis) chatKey(chat int64) string {
	return r.prefix + ":chat:" + strconv.FormatInt(chat, 10) + ":users"
}
func (r *Redis) updateKey(id int64) string { return r.prefix + ":upd:" + strconv.FormatInt(id, 10) }
func (r *Redis) offsetKey() string         { return r.prefix + ":poll:offset" }

// PutLinkToken stores tok until tok.ExpiresAt and makes it the user's current
// token. Tokens the user minted before stay valid until they expire. An
// ExpiresAt in the past stores nothing and clears the user's current token.
func (r *Redis) PutLinkToken(ctx context.Context, tok LinkToken) error {
	if tok.Token == "" || tok.UserID == "" {
		return errEmptyToken
	}
	ttl := time.Until(tok.ExpiresAt).Milliseconds()
	keys := []string{r.tokenKey(tok.Token), r.userTokenKey(tok.UserID)}
	err := r.putToken.Run(ctx, r.client, keys, tok.UserID, tok.Token, tok.ExpiresAt.UnixMilli(), ttl).Err()
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
	if len(res) != 2 {
		return LinkToken{}, unavailable("user link token", fmt.Errorf("unexpected script reply %q", res))
	}
	exp, err := strconv.ParseInt(res[1], 10, 64)
	if err != nil {
		return LinkToken{}, unavailable("user link token", fmt.Errorf("corrupt expiry: %w", err))
	}
	return LinkToken{Token: res[0], UserID: userID, ExpiresAt: time.UnixMilli(exp)}, nil
}

// ConsumeLinkToken atomically deletes the token, clears the user's current
// token pointer if it names this token, replaces the user's previous link and
// links the user to chatID. LinkedAt keeps millisecond precision.
func (r *Redis) ConsumeLinkToken(ctx context.Context, token string, chatID int64, username string, now time.Time) (Link, error) {
	if token == "" {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	user, err := r.consume.Run(ctx, r.client, []string{r.tokenKey(token)},
		r.prefix, token, strconv.FormatInt(chatID, 10), username, now.UnixMilli()).Text()
	if errors.Is(err, redis.Nil) {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	if err != nil {
		return Link{}, unavailable("consume link token", err)
	}
	return Link{UserID: user, ChatID: chatID, Username: username, LinkedAt: time.UnixMilli(now.UnixMilli())}, nil
}

// GetLink returns the user's link or ErrNotFound.
func (r *Redis) GetLink(ctx context.Context, userID string) (Link, error) {
	vals, err := r.client.HMGet(ctx, r.linkKey(userID), "chat", "username", "linked_at").Result()
	if err != nil {
		return Link{}, unavailable("get link", err)
	}
	if len(vals) != 3 || vals[0] == nil {
		return Link{}, fmt.Errorf("store: link of user %q: %w", userID, ErrNotFound)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	chat, err := strconv.ParseInt(str(vals[0]), 10, 64)
	if err != nil {
		return Link{}, unavailable("get link", fmt.Errorf("corrupt chat id: %w", err))
	}
	link := Link{UserID: userID, ChatID: chat, Username: str(vals[1])}
	if ms, err := strconv.ParseInt(str(vals[2]), 10, 64); err == nil {
		link.LinkedAt = time.UnixMilli(ms)
	}
	return link, nil
}

// UpdateChatID moves every link of chat oldID to newID and returns the moved
// user ids in no particular order.
func (r *Redis) UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error) {
	users, err := r.moveChat.Run(ctx, r.client, []string{r.chatKey(oldID), r.chatKey(newID)},
		r.prefix, strconv.FormatInt(oldID, 10), strconv.FormatInt(newID, 10)).StringSlice()
	if err != nil {
		return nil, unavailable("update chat id", err)
	}
	if users == nil {
		users = []string{}
	}
	return users, nil
}

// Unlink removes the user's link or returns ErrNotFound.
func (r *Redis) Unlink(ctx context.Context, userID string) error {
	n, err := r.unlink.Run(ctx, r.client, []string{r.linkKey(userID)}, r.prefix, userID).Int()
	if err != nil {
		return unavailable("unlink", err)
	}
	if n == 0 {
		return fmt.Errorf("store: unlink user %q: %w", userID, ErrNotFound)
	}
	return nil
}

// UnlinkChat removes every link to chatID and returns the unlinked user ids
// in no particular order (empty, not nil, when none).
func (r *Redis) UnlinkChat(ctx context.Context, chatID int64) ([]string, error) {
	users, err := r.unlinkChat.Run(ctx, r.client, []string{r.chatKey(chatID)},
		r.prefix, strconv.FormatInt(chatID, 10)).StringSlice()
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
	if err := r.client.Set(ctx, r.updateKey(updateID), updDone, time.Duration(ttlMillis(keep))*time.Millisecond).Err(); err != nil {
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
