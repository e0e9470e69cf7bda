package store

// Redis key layout. <p> is the prefix given to NewRedis ("tgn" when empty).
//
//	<p>:lt:<token>              hash {user: userID, exp: expiry unix ms}; PX TTL until ExpiresAt
//	<p>:user:<userID>:lt        string: the user's current token; same TTL as its token
//	<p>:links:<b>               hash userID → "chatID|linked_at unix ms|username", for the users
//	                            with linkBucket(userID) == b; no TTL
//	<p>:chats:<b>               hash chatID → the one userID linked to it, or "" when several
//	                            are (they are then in <p>:chat:<chatID>:many), for the chats with
//	                            linkBucket(decimal chatID) == b; no TTL
//	<p>:chat:<chatID>:many      set of the userIDs linked to chatID, only while there are two or
//	                            more; no TTL
//	<p>:upd:<updateID>          string "p" (claimed, PX claimTTL) or "d" (done, PX keep)
//	<p>:poll:offset             string: decimal getUpdates offset; no TTL
//
// Links and the chat index are bucketed so that they cost little memory: a
// top-level key costs about 100 B of overhead (dict entry, key, object,
// allocator rounding), while a field and its value in a small hash, which
// Redis keeps as a listpack, cost their bytes plus about 2 each. b is
// linkBucket: the first 16 bits of SHA-1 of the user id (or of the decimal
// chat id), modulo linkBuckets (16384). Go computes it for the keys it
// knows; the scripts compute the same in Lua (linkLua's link_bucket, with
// redis.sha1hex) for the keys they derive from values they read.
//
// A bucket stays a listpack while it has at most hash-max-listpack-entries
// fields (default 128) and every field and value is at most
// hash-max-listpack-value bytes (default 64). With 16384 buckets the
// defaults hold up to about 1.3 million linked users: a mean of 80 per
// bucket, and the fullest bucket still below 128 (1 million users fill 33
// to 93 per bucket). For more users, raise hash-max-listpack-entries (256
// holds about 3 million, 512 about 6.5 million). A link's value is at most
// 61 bytes with Telegram's chat ids (up to 14 characters) and usernames (up
// to 32). A user id longer than 64 bytes works, as does a bucket past 128
// fields, but the bucket is then converted to a hashtable, which costs
// more per field. No server setting is needed for correctness, only to
// stay compact.
//
// Layout change, no migration: earlier versions (before the bucketed
// layout) kept a link as two keys per user, <p>:user:<userID>:link (hash)
// and <p>:chat:<chatID>:users (set). They are no longer read or written.
// tgnotify is pre-release, so they are not migrated: users linked before
// must link again. The stale keys may be deleted (SCAN for <p>:user:*:link
// and <p>:chat:*:users; not <p>:user:*:lt, the live tokens).
//
// Multi-key operations run as Lua scripts, so they are atomic. The scripts
// derive some key names from values they read (the token's user, the link's
// chat, the chat's users). Redis Cluster allows that only while every key a
// script touches is in one hash slot: with a hash-tagged prefix such as
// "{tgn}" ([ClusterRedisPrefix], see [KeyPrefix]) every key above, and those
// of the queue, limiter and leases, hashes to the slot of "tgn". NewRedis
// adds the tag itself when given a *redis.ClusterClient and a prefix without
// one. Every key starts with the prefix.

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
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
	release    *oomScript
	complete   *oomScript
	// waitReplicas and waitTimeout: see SetWaitReplicas (wait_redis.go).
	waitReplicas     int
	waitTimeout      time.Duration
	scriptFlagsState // oom_redis.go
	closeOnce        sync.Once
	closeResult      error
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

// linkBuckets is how many hashes the links, and the chat index, are spread
// over (see the key layout). It must divide 65536, and linkLua's
// link_bucket hard-codes it. Changing it moves every link: do not.
const linkBuckets = 16384

// linkBucket returns the bucket of s, a user id or a decimal chat id: the
// first 16 bits of SHA-1(s), big-endian, modulo linkBuckets. linkLua's
// link_bucket computes the same in Lua.
func linkBucket(s string) int {
	sum := sha1.Sum([]byte(s))
	return int(binary.BigEndian.Uint16(sum[:2])) % linkBuckets
}

// linkLua defines the Lua helpers of the link scripts, for scripts that
// read links or the chat index (the queue's claim reads a user's link with
// link_chat). p is the prefix. Keys passed in (lk, ck, sk) are the link
// bucket, the chat index bucket and the chat's set of users; the helpers
// derive them (link_key, index_key, index_set_key) when the caller could
// not compute them in Go.
//
// The chat index field of a chat holds its only user, or "" when it has
// several: then they are in the chat's set, which never has fewer than
// two members (user ids are never empty).
const linkLua = `
local function link_bucket(s)
  return tonumber(string.sub(redis.sha1hex(s), 1, 4), 16) % 16384
end
local function link_key(p, user) return p .. ':links:' .. link_bucket(user) end
local function index_key(p, chat) return p .. ':chats:' .. link_bucket(chat) end
local function index_set_key(p, chat) return p .. ':chat:' .. chat .. ':many' end
-- link_chat_of returns the chat of a packed link "chat|linked_at|username".
local function link_chat_of(v)
  local i = string.find(v, '|', 1, true)
  if not i then return v end
  return string.sub(v, 1, i - 1)
end
-- link_chat returns the chat user is linked to (a decimal string), or false.
local function link_chat(p, user)
  local v = redis.call('HGET', link_key(p, user), user)
  if not v then return false end
  return link_chat_of(v)
end
local function index_add(ck, sk, chat, user)
  local v = redis.call('HGET', ck, chat)
  if not v then
    redis.call('HSET', ck, chat, user)
  elseif v == '' then
    redis.call('SADD', sk, user)
  elseif v ~= user then
    redis.call('SADD', sk, v, user)
    redis.call('HSET', ck, chat, '')
  end
end
local function index_del(ck, sk, chat, user)
  local v = redis.call('HGET', ck, chat)
  if v == user then
    redis.call('HDEL', ck, chat)
  elseif v == '' then
    redis.call('SREM', sk, user)
    if redis.call('SCARD', sk) < 2 then
      local rest = redis.call('SMEMBERS', sk)
      redis.call('DEL', sk)
      if rest[1] then redis.call('HSET', ck, chat, rest[1]) else redis.call('HDEL', ck, chat) end
    end
  end
end
local function index_users(ck, sk, chat)
  local v = redis.call('HGET', ck, chat)
  if not v then return {} end
  if v == '' then return redis.call('SMEMBERS', sk) end
  return {v}
end
local function index_clear(ck, sk, chat)
  redis.call('HDEL', ck, chat)
  redis.call('DEL', sk)
end
`

// consumeScript atomically consumes a token and links its user. KEYS: token
// key, index bucket and set key of the new chat. ARGV: prefix, token, chat,
// packed link (packLink). Returns the user id or nil when the token is
// unknown, used or expired.
const consumeScript = linkLua + `
local p, chat = ARGV[1], ARGV[3]
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return false end
redis.call('DEL', KEYS[1])
local ptr = p .. ':user:' .. user .. ':lt'
if redis.call('GET', ptr) == ARGV[2] then redis.call('DEL', ptr) end
local lk = link_key(p, user)
local old = redis.call('HGET', lk, user)
if old then
  old = link_chat_of(old)
  index_del(index_key(p, old), index_set_key(p, old), old, user)
end
redis.call('HSET', lk, user, ARGV[4])
index_add(KEYS[2], KEYS[3], chat, user)
return user
`

// unlinkScript removes one user's link. KEYS: link bucket. ARGV: prefix,
// user. Returns 1, or 0 when the user was not linked.
const unlinkScript = linkLua + `
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v then return 0 end
local chat = link_chat_of(v)
index_del(index_key(ARGV[1], chat), index_set_key(ARGV[1], chat), chat, ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
return 1
`

// unlinkFromChatScript removes one user's link only while it points at a
// chat. KEYS: link bucket. ARGV: prefix, user, chat. Returns 1, or 0 when
// the user is not linked to that chat.
const unlinkFromChatScript = linkLua + `
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v or link_chat_of(v) ~= ARGV[3] then return 0 end
index_del(index_key(ARGV[1], ARGV[3]), index_set_key(ARGV[1], ARGV[3]), ARGV[3], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
return 1
`

// unlinkChatScript removes every link to a chat. KEYS: index bucket and set
// key of the chat. ARGV: prefix, chat. Returns the unlinked user ids.
const unlinkChatScript = linkLua + `
local out = {}
for _, user in ipairs(index_users(KEYS[1], KEYS[2], ARGV[2])) do
  local lk = link_key(ARGV[1], user)
  local v = redis.call('HGET', lk, user)
  if v and link_chat_of(v) == ARGV[2] then
    redis.call('HDEL', lk, user)
    out[#out + 1] = user
  end
end
index_clear(KEYS[1], KEYS[2], ARGV[2])
return out
`

// claimScript claims an update. KEYS: update key. ARGV: ttl ms. Returns 1
// (claimed), 2 (in progress) or 3 (done).
const claimScript = `
if redis.call('SET', KEYS[1], 'p', 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('GET', KEYS[1]) == 'd' then return 3 end
return 2
`

// completeScript marks an update done (updDone). KEYS: update key. ARGV:
// keep ms.
const completeScript = `
redis.call('SET', KEYS[1], 'd', 'PX', ARGV[1])
return 1
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
	r := &Redis{
		client:     client,
		prefix:     prefix,
		putToken:   redis.NewScript(putTokenScript),
		userToken:  redis.NewScript(userTokenScript),
		unlink:     redis.NewScript(unlinkScript),
		unlinkChat: redis.NewScript(unlinkChatScript),
		unlinkFrom: redis.NewScript(unlinkFromChatScript),
	}
	r.consume, r.claim = newOOMScript(r, consumeScript), newOOMScript(r, claimScript)
	r.release, r.complete = newOOMScript(r, releaseScript), newOOMScript(r, completeScript)
	r.migrate = newOOMScript(r, migrateChatScript)
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

// Key builders; see the layout at the top of this file.

func (r *Redis) tokenKey(token string) string    { return r.prefix + ":lt:" + token }
func (r *Redis) userTokenKey(user string) string { return r.prefix + ":user:" + user + ":lt" }

// linkKey is the links bucket of user.
func (r *Redis) linkKey(user string) string {
	return r.prefix + ":links:" + strconv.Itoa(linkBucket(user))
}

// chatKeys returns the chat index bucket of chat and the key of its set of
// users (used only while it has several).
func (r *Redis) chatKeys(chat int64) []string {
	c := strconv.FormatInt(chat, 10)
	return []string{r.prefix + ":chats:" + strconv.Itoa(linkBucket(c)), r.prefix + ":chat:" + c + ":many"}
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
	keys := append([]string{r.tokenKey(token)}, r.chatKeys(chatID)...)
	args := []any{r.prefix, token, strconv.FormatInt(chatID, 10), packLink(chatID, now.UnixMilli(), username)}
	var cmd *redis.Cmd
	var waitErr error
	if r.waitReplicas > 0 {
		cmd, waitErr = r.evalWait(ctx, "consume link token", r.consume.pick(ctx), keys, args...)
	} else {
		cmd = r.consume.Run(ctx, r.client, keys, args...)
	}
	user, err := cmd.Text()
	if err == nil && waitErr != nil {
		return Link{}, waitErr
	}
	if errors.Is(err, redis.Nil) {
		return Link{}, fmt.Errorf("store: consume link token: %w", ErrTokenInvalid)
	}
	if err != nil {
		return Link{}, unavailable("consume link token", err)
	}
	return Link{UserID: user, ChatID: chatID, Username: username, LinkedAt: time.UnixMilli(now.UnixMilli())}, nil
}

// packLink is a link as stored in its bucket: "chatID|linked_at ms|username".
// The username is last, so it may contain "|".
func packLink(chat, linkedAt int64, username string) string {
	return strconv.FormatInt(chat, 10) + "|" + strconv.FormatInt(linkedAt, 10) + "|" + username
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
	chatS, rest, _ := strings.Cut(v, "|")
	msS, username, _ := strings.Cut(rest, "|")
	chat, err := strconv.ParseInt(chatS, 10, 64)
	if err != nil {
		return Link{}, unavailable("get link", fmt.Errorf("corrupt chat id: %w", err))
	}
	link := Link{UserID: userID, ChatID: chat, Username: username}
	if ms, err := strconv.ParseInt(msS, 10, 64); err == nil {
		link.LinkedAt = time.UnixMilli(ms)
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

// UnlinkFromChat removes the user's link only while it points at chatID,
// else returns ErrNotFound.
func (r *Redis) UnlinkFromChat(ctx context.Context, userID string, chatID int64) error {
	n, err := r.unlinkFrom.Run(ctx, r.client, []string{r.linkKey(userID)}, r.prefix, userID,
		strconv.FormatInt(chatID, 10)).Int()
	if err != nil {
		return unavailable("unlink from chat", err)
	}
	if n == 0 {
		return fmt.Errorf("store: unlink user %q from chat %d: %w", userID, chatID, ErrNotFound)
	}
	return nil
}

// UnlinkChat removes every link to chatID and returns the unlinked user ids
// in no particular order (empty, not nil, when none).
func (r *Redis) UnlinkChat(ctx context.Context, chatID int64) ([]string, error) {
	users, err := r.unlinkChat.Run(ctx, r.client, r.chatKeys(chatID),
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
