package store

// Redis key layout: every key name the Go code uses is built here. <p> is
// the store's prefix (NewRedis; "tgn" when empty, "{tgn}" on a Cluster).
//
// Links and link tokens (redis.go):
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
//
// Updates and the poller (redis.go, lease_redis.go):
//
//	<p>:upd:<updateID>          string "p" (claimed, PX claimTTL) or "d" (done, PX keep)
//	<p>:poll:offset             string: decimal getUpdates offset; no TTL
//	<p>:lease:<name>            string: the holder of the named lease (the poller's, the event webhook's); PX its TTL
//
// The event webhook (evhook_redis.go):
//
//	<p>:evhook:cursor           string: the cursor after the last batch the receiver acknowledged; no TTL
//
// The notification queue (queue_redis.go, migrate_redis.go):
//
//	<p>:n:<id>                  hash: the notification record (fields: queue_redis.go); PX retention, refreshed on change
//	<p>:idem:<len>:<user>:<key> string: notification id for an idempotency key; PX idempotency TTL
//	<p>:q:<chat>                list: the chat's FIFO backlog of notification ids; no TTL
//	<p>:sched                   zset: chat → unix ms when the chat may send next (chats not leased)
//	<p>:nb:<chat>               string: unix ms before which an idle chat (empty backlog) may not send, set when its backlog empties; PXAT that time
//	<p>:lease                   zset: chat → unix ms when the chat's lease expires
//	<p>:leasetok                hash: chat → fencing token of the current lease
//	<p>:us:<user>               hash {queued, sent, failed, last}: per-user summary; PX retention
//	<p>:pending                 zset: id → created_at unix ms of every notification QUEUED or SENDING (Backlog)
//	<p>:mig:<chat>              string: the chat a group migration moved this chat's lease to (a send was in flight); PX 24 h
//
// Button presses (press.go):
//
//	<p>:cbq:<query id>          string "1": a callback query whose press is recorded (de-duplication); PX 25 h
//	                            (the presses themselves are the record's field presses, the event in <p>:events)
//
// The event log (events_redis.go):
//
//	<p>:events                  stream: the event log; entry id = cursor, fields t (type), u (user),
//	                            c (chat), n (notification), s (state), r (reason), k (callback),
//	                            x (text), m (username), ts (time, unix ms, only when not the id's);
//	                            MAXLEN ~ EventOptions.MaxLen, MINID ~ now - EventOptions.Retention
//	<p>:ul:<user>               string: the chat the application unlinked user from (UnlinkUser), so
//	                            that the user's notifications still queued fail "unlinked"; PX
//	                            EventOptions.Retention, deleted when the user links again
//
// Broadcasts (broadcast_redis.go, store/lua/lib/bc.lua):
//
//	<p>:bc:<id>                 hash: the broadcast's state and counts (fields: lib/bc.lua); PX retention once finished
//	<p>:bc:<id>:m               hash: the record template every recipient's record is made of (parts, parse_mode, ...)
//	<p>:bc:<id>:r               list: the recipients (user ids) not yet expanded, taken off as expanded
//	<p>:bc:<id>:fl              zset: the expanded recipients' notification ids not yet settled → expanded at, ms
//	<p>:bc:<id>:f               list: "reason|user" of each failed recipient, in order
//	<p>:bcs                     set: the running broadcasts with recipients left to expand
//	<p>:bc:idem:<key>           string: the broadcast id of an idempotency key; PX idempotency TTL
//
// The rate limiter (limiter_redis.go):
//
//	<p>:rl:<name>               string: GCRA theoretical arrival time, unix µs (Redis clock); PX until it lapses
//	<p>:pause                   string "1": every sender waits while it exists; PX = the pause (429 retry_after)
//
// Go passes the keys it can name in a script's KEYS and the prefix in its
// ARGV; the keys a script derives from values it reads (a user's link
// bucket, the records in a backlog, the chat a user is linked to) are
// built by store/lua/lib/keys.lua, the Lua mirror of the builders below
// (TestLuaKeysMatchGo checks that they agree).
//
// Redis Cluster allows a script to touch keys only while they are all in
// one hash slot: with a hash-tagged prefix such as "{tgn}"
// ([ClusterRedisPrefix], see [KeyPrefix]) every key above hashes to the
// slot of "tgn". NewRedis adds the tag itself when given a
// *redis.ClusterClient and a prefix without one. Every key starts with the
// prefix; the placeholders (idemPlaceholderKey, backlogPlaceholderKey) too.
//
// Links and the chat index are bucketed so that they cost little memory: a
// top-level key costs about 100 B of overhead (dict entry, key, object,
// allocator rounding), while a field and its value in a small hash, which
// Redis keeps as a listpack, cost their bytes plus about 2 each. b is
// linkBucket: the first 16 bits of SHA-1 of the user id (or of the decimal
// chat id), modulo linkBuckets (16384). Go computes it for the keys it
// knows; the scripts compute the same in Lua (lib/keys.lua's link_bucket,
// with redis.sha1hex) for the keys they derive from values they read.
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

import (
	"crypto/sha1"
	"encoding/binary"
	"strconv"
)

// linkBuckets is how many hashes the links, and the chat index, are spread
// over (see the key layout). It must divide 65536, and lib/keys.lua's
// link_bucket hard-codes it. Changing it moves every link: do not.
const linkBuckets = 16384

// linkBucket returns the bucket of s, a user id or a decimal chat id: the
// first 16 bits of SHA-1(s), big-endian, modulo linkBuckets. lib/keys.lua's
// link_bucket computes the same in Lua.
func linkBucket(s string) int {
	sum := sha1.Sum([]byte(s))
	return int(binary.BigEndian.Uint16(sum[:2])) % linkBuckets
}

func chatStr(chat int64) string { return strconv.FormatInt(chat, 10) }

// Links and link tokens.

func tokenKey(p, token string) string    { return p + ":lt:" + token }
func userTokenKey(p, user string) string { return p + ":user:" + user + ":lt" }

// linkKey is the links bucket of user.
func linkKey(p, user string) string { return p + ":links:" + strconv.Itoa(linkBucket(user)) }

// chatIndexKey is the chat index bucket of chat; chatUsersKey the chat's
// set of users (used only while it has several).
func chatIndexKey(p string, chat int64) string {
	return p + ":chats:" + strconv.Itoa(linkBucket(chatStr(chat)))
}
func chatUsersKey(p string, chat int64) string { return p + ":chat:" + chatStr(chat) + ":many" }

// Updates and the poller.

func updateKey(p string, id int64) string { return p + ":upd:" + strconv.FormatInt(id, 10) }
func pollOffsetKey(p string) string       { return p + ":poll:offset" }
func namedLeaseKey(p, name string) string { return p + ":lease:" + name }

// The event webhook.

func evhookCursorKey(p string) string { return p + ":evhook:cursor" }

// The notification queue.

func recordKey(p, id string) string { return p + ":n:" + id }

// idempotencyKey is the key of user's idempotency key (idemKey: the user's
// length first, so that no user and key pair collides with another).
func idempotencyKey(p, user, key string) string { return p + ":idem:" + idemKey(user, key) }

// idemPlaceholderKey stands in a script's KEYS for the idempotency key of
// a notification without one: never touched, but in the prefix's hash slot
// (Redis Cluster rejects a script whose keys are in different slots, and ""
// has a slot of its own).
func idemPlaceholderKey(p string) string { return p + ":idem:" }

func backlogKey(p string, chat int64) string { return p + ":q:" + chatStr(chat) }

// backlogPlaceholderKey stands in for a backlog the script derives itself
// (the chat is read from the user's link), in the prefix's slot.
func backlogPlaceholderKey(p string) string { return p + ":q:" }

func schedKey(p string) string                 { return p + ":sched" }
func pacingKey(p string, chat int64) string    { return p + ":nb:" + chatStr(chat) }
func chatLeaseKey(p string) string             { return p + ":lease" }
func leaseTokKey(p string) string              { return p + ":leasetok" }
func summaryKey(p, user string) string         { return p + ":us:" + user }
func pendingKey(p string) string               { return p + ":pending" }
func migrationKey(p string, chat int64) string { return p + ":mig:" + chatStr(chat) }

// Button presses.

func pressDedupKey(p, queryID string) string { return p + ":cbq:" + queryID }

// The event log.

func eventsKey(p string) string         { return p + ":events" }
func unlinkedKey(p, user string) string { return p + ":ul:" + user }

// Broadcasts (lib/bc.lua builds the same from an id it reads).

func bcKey(p, id string) string           { return p + ":bc:" + id }
func bcTemplateKey(p, id string) string   { return p + ":bc:" + id + ":m" }
func bcRecipientsKey(p, id string) string { return p + ":bc:" + id + ":r" }
func bcFlightKey(p, id string) string     { return p + ":bc:" + id + ":fl" }
func bcFailuresKey(p, id string) string   { return p + ":bc:" + id + ":f" }
func bcRunningKey(p string) string        { return p + ":bcs" }
func bcIdemKey(p, key string) string      { return p + ":bc:idem:" + key }

// The rate limiter (the queue's claims use them too: ClaimOptions.Limit).

func limitKey(p, name string) string { return p + ":rl:" + name }
func pauseKey(p string) string       { return p + ":pause" }

// The stores' shorthands for the builders above, under their own prefix.

func (r *Redis) tokenKey(token string) string    { return tokenKey(r.prefix, token) }
func (r *Redis) userTokenKey(user string) string { return userTokenKey(r.prefix, user) }
func (r *Redis) linkKey(user string) string      { return linkKey(r.prefix, user) }
func (r *Redis) updateKey(id int64) string       { return updateKey(r.prefix, id) }
func (r *Redis) offsetKey() string               { return pollOffsetKey(r.prefix) }
func (r *Redis) leaseKey(name string) string     { return namedLeaseKey(r.prefix, name) }
func (r *Redis) eventsKey() string               { return eventsKey(r.prefix) }
func (r *Redis) unlinkedKey(user string) string  { return unlinkedKey(r.prefix, user) }
func (r *Redis) evhookCursorKey() string         { return evhookCursorKey(r.prefix) }

// chatKeys returns the chat index bucket of chat and the key of its set of
// users, as the link scripts take them.
func (r *Redis) chatKeys(chat int64) []string {
	return []string{chatIndexKey(r.prefix, chat), chatUsersKey(r.prefix, chat)}
}

func (q *RedisQueue) recordKey(id string) string      { return recordKey(q.prefix, id) }
func (q *RedisQueue) idemKey(user, key string) string { return idempotencyKey(q.prefix, user, key) }
func (q *RedisQueue) backlogKey(chat int64) string    { return backlogKey(q.prefix, chat) }
func (q *RedisQueue) schedKey() string                { return schedKey(q.prefix) }
func (q *RedisQueue) leaseKey() string                { return chatLeaseKey(q.prefix) }
func (q *RedisQueue) leaseTokKey() string             { return leaseTokKey(q.prefix) }
func (q *RedisQueue) pendingKey() string              { return pendingKey(q.prefix) }
func (q *RedisQueue) summaryKey(u string) string      { return summaryKey(q.prefix, u) }

func (l *RedisLimiter) limitKey(name string) string { return limitKey(l.prefix, name) }
func (l *RedisLimiter) pauseKey() string            { return pauseKey(l.prefix) }
