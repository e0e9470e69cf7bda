package store

// Redis key layout of the notification queue (<p> is the store's prefix):
//
//	<p>:n:<id>                  hash: the notification record (fields below); PX retention, refreshed on change
//	<p>:idem:<len>:<user>:<key> string: notification id for an idempotency key; PX idempotency TTL
//	<p>:q:<chat>                list: the chat's FIFO backlog of notification ids; no TTL
//	<p>:sched                   zset: chat → unix ms when the chat may send next (chats not leased)
//	<p>:nb:<chat>               string: unix ms before which an idle chat (empty backlog) may not send, set when its backlog empties; PXAT that time
//	<p>:lease                   zset: chat → unix ms when the chat's lease expires
//	<p>:leasetok                hash: chat → fencing token of the current lease
//	<p>:us:<user>               hash {queued, sent, failed, last}: per-user summary; PX retention
//	<p>:pending                 zset: id → created_at unix ms of every notification QUEUED or SENDING (Backlog)
//	<p>:mig:<chat>              string: the chat a group migration moved this chat's lease to (a send was in flight); PX 24 h (migrate_redis.go)
//
// Record fields: id, user_id, chat_id, parts (JSON array), nparts, parse_mode,
// disable_notification, plain_text_fallback, idem_key, state (1-4), attempts,
// retries, next_part, message_ids (comma-separated), last_error,
// failure_reason, created_at, updated_at (unix ms), reply ("1" for a bot
// reply: head of the backlog, no link check, no summary). A field at its zero
// value may be absent (enqueue writes only id, user_id, chat_id, parts,
// state, created_at and the fields that differ from their defaults): a
// missing nparts is 1, a missing number 0, a missing string "", a missing
// flag false, a missing updated_at created_at.
//
// Every operation is one Lua script, so enqueue (record + backlog + schedule
// + idempotency key + summary + pending), claim and settle are atomic. A
// chat is in at most one of sched and lease. Claims also read the claimed
// user's link (linkLua's link_chat, see redis.go), so that the dispatcher
// need not read it again before sending, and, given ClaimOptions.Limit,
// check the limiter's pause and take a slot of its GCRA limit
// (<p>:pause, <p>:rl:<name>, see limiter_redis.go) in the same step.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisQueue is the notification queue in Redis, shared by every replica
// using the same prefix. Get it from [Redis.Queue].
type RedisQueue struct {
	client redis.UniversalClient
	prefix string
	owner  *Redis
	lim    *RedisLimiter // the limiter whose budget claims reserve in

	enqueue *redis.Script
	// enqueueBatch groups concurrent enqueues into one enqueueScript run.
	enqueueBatch *batcher[enqueueItem, any]
	claim        *oomScript
	settle       *oomScript
	settleClaim  *oomScript
	backlog      *oomScript
}

var _ delivery.Queue = (*RedisQueue)(nil)

// Queue returns the notification queue stored under r's prefix, on r's
// client (closing r closes it). Its enqueues and claims read the users'
// links of r, its claims reserve in the budget of r's [Redis.Limiter] and
// honour its pause, and its migrations move r's links.
func (r *Redis) Queue() *RedisQueue {
	q := &RedisQueue{
		client:      r.client,
		prefix:      r.prefix,
		owner:       r,
		lim:         r.Limiter(),
		enqueue:     redis.NewScript(enqueueScript),
		claim:       newOOMScript(r, claimQueueScript),
		settle:      newOOMScript(r, settleScript),
		settleClaim: newOOMScript(r, settleClaimScript),
		backlog:     newOOMScript(r, backlogScript),
	}
	q.enqueueBatch = newBatcher(enqueueBatchesRunning, enqueueBatchItems, q.runEnqueue)
	return q
}

// Pause stops every sender of every replica for at least d (after a 429);
// see [RedisLimiter.Pause].
func (q *RedisQueue) Pause(ctx context.Context, d time.Duration) error { return q.lim.Pause(ctx, d) }

// Acquire takes a slot of the named limit in the budget the claims reserve
// in; see [RedisLimiter.Acquire].
func (q *RedisQueue) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error) {
	return q.lim.Acquire(ctx, name, rate, burst, maxWait)
}

// UnlinkBlocked removes userID's link while it points at chatID (the chat
// answered 403); nil, changing nothing, when it does not.
func (q *RedisQueue) UnlinkBlocked(ctx context.Context, userID string, chatID int64) error {
	if err := q.owner.UnlinkFromChat(ctx, userID, chatID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// enqueueScript enqueues a batch of notifications, one after the other in
// one atomic step. KEYS: sched, lease, pending, then for each notification
// its idempotency key (an untouched placeholder when none), record,
// backlog and summary. ARGV: prefix, then for each notification: id,
// chat, created ms, idempotency TTL ms ("" when no key), retention ms,
// user, kind ('r' for a bot reply, else ”), the number n of record
// field/value arguments that follow, and
// those n arguments (the record's fields but chat_id, which the script
// adds; the record id is fresh, so the hash is new), then the user's
// backlog limit and the global queued limit (0: none). It returns one
// reply per notification: {1, id, chat} when enqueued, {0, existing id}
// when the idempotency key was used, {2} when the user is not linked, {3,
// message} when the user's link is corrupt, {4, 'user' or 'queued'} when a
// limit is reached; nothing is written for a notification that is not
// enqueued.
//
// With chat "" the chat is the one the user is linked to (linkLua's
// link_chat, the links of the queue's store), read in the same step: the
// backlog key is then derived (the backlog key given is ignored) and the
// record's chat_id set to it. The link is read before the idempotency key
// is looked at, as a separate link read would.
//
// A reply goes to the head of the backlog (behind a head whose first parts
// were sent) and into no summary.
const enqueueScript = linkLua + `
local sched, lease, pending = KEYS[1], KEYS[2], KEYS[3]
local p = ARGV[1]
local function enqueue(k, a)
  local id, chat, now, ittl, retention, user = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local reply = ARGV[a + 6] == 'r'
  local nf = tonumber(ARGV[a + 7])
  local idem, rec, backlog, summary = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if chat == '' then
    chat = link_chat(p, user)
    if not chat then return {2} end
    if not string.match(chat, '^-?%d+$') then return {3, 'corrupt link of user ' .. user} end
    backlog = p .. ':q:' .. chat
  end
  if ittl ~= '' then
    local ex = redis.call('GET', idem)
    if ex then return {0, ex} end
  end
  -- Admission limits (limits.go): the user's queued count (not for a
  -- reply, which is in no summary), the global one.
  local maxu, maxq = tonumber(ARGV[a + 8 + nf]), tonumber(ARGV[a + 9 + nf])
  if maxu > 0 and not reply and tonumber(redis.call('HGET', summary, 'queued') or '0') >= maxu then return {4, 'user'} end
  if maxq > 0 and redis.call('ZCARD', pending) >= maxq then return {4, 'queued'} end
  redis.call('HSET', rec, 'chat_id', chat, unpack(ARGV, a + 8, a + 7 + nf))
  redis.call('PEXPIRE', rec, retention)
  if reply then
    local head = redis.call('LINDEX', backlog, 0)
    if head and (redis.call('HGET', p .. ':n:' .. head, 'next_part') or '0') ~= '0' then
      redis.call('LINSERT', backlog, 'AFTER', head, id)
    else
      redis.call('LPUSH', backlog, id)
    end
  else
    redis.call('RPUSH', backlog, id)
  end
  redis.call('ZADD', pending, now, id)
  if not redis.call('ZSCORE', sched, chat) and not redis.call('ZSCORE', lease, chat) then
    -- Not before the chat's pacing allows (set when its backlog emptied).
    local at = tonumber(now)
    local nb = tonumber(redis.call('GET', p .. ':nb:' .. chat) or '0')
    if nb > at then at = nb end
    redis.call('ZADD', sched, at, chat)
  end
  if ittl ~= '' then redis.call('SET', idem, id, 'PX', ittl) end
  if not reply then
    redis.call('HINCRBY', summary, 'queued', 1)
    redis.call('HSET', summary, 'last', id)
    redis.call('PEXPIRE', summary, retention)
  end
  return {1, id, chat}
end
local out, k, a = {}, 4, 2
while a <= #ARGV do
  out[#out + 1] = enqueue(k, a)
  a = a + 10 + tonumber(ARGV[a + 7])
  k = k + 4
end
return out
`

// claimFunc is the Lua function behind Claim. sched, lease, leasetok and
// pending are keys; p the prefix; now (number) and nows (the same as a
// string) unix ms; leasems and retention in ms; token the fencing token;
// lim is nil or {limit key, pause key, interval µs, tolerance µs, max age
// ms, max wait µs or -1}. It returns false when no chat is due, {'p',
// pause ms} while paused (lim given), {'r', µs} when the limit has no slot
// within the max wait (nothing claimed, no slot taken; one may be had
// after µs), or {chat, linked chat or empty, reserved wait µs or empty,
// record field/value pairs...}. A reply record reserves a slot without
// a link; any other reserves only when its user is linked to the chat.
const claimFunc = linkLua + gcraFunc + `
local function claim(sched, lease, leasetok, pending, p, now, nows, leasems, token, retention, lim)
  if lim then
    local ps = redis.call('PTTL', lim[2])
    if ps > 0 then return {'p', tostring(ps)} end
    if lim[6] >= 0 then
      local w = gcra_wait(lim[1], lim[4])
      if w > lim[6] then return {'r', tostring(w - lim[6])} end
    end
  end
  for _, chat in ipairs(redis.call('ZRANGEBYSCORE', lease, '-inf', now)) do
    redis.call('ZREM', lease, chat)
    redis.call('HDEL', leasetok, chat)
    redis.call('ZADD', sched, now, chat)
  end
  for _ = 1, 100 do
    local due = redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', 0, 1)
    if #due == 0 then return false end
    local chat = due[1]
    local q = p .. ':q:' .. chat
    local id = redis.call('LINDEX', q, 0)
    if not id then
      redis.call('ZREM', sched, chat)
    else
      local nk = p .. ':n:' .. id
      local rec = redis.call('HGETALL', nk)
      if #rec == 0 then
        redis.call('LPOP', q)
        redis.call('ZREM', pending, id)
      else
        redis.call('ZREM', sched, chat)
        redis.call('ZADD', lease, now + leasems, chat)
        redis.call('HSET', leasetok, chat, token)
        local user, created, si, ui, reply = '', 0, nil, nil, false
        for i = 1, #rec - 1, 2 do
          local f = rec[i]
          if f == 'user_id' then user = rec[i + 1]
          elseif f == 'reply' then reply = rec[i + 1] == '1'
          elseif f == 'created_at' then created = tonumber(rec[i + 1]) or 0
          elseif f == 'state' then si = i + 1
          elseif f == 'updated_at' then ui = i + 1 end
        end
        if si and rec[si] == '1' then
          redis.call('HSET', nk, 'state', '2', 'updated_at', nows)
          rec[si] = '2'
          if ui then rec[ui] = nows else rec[#rec + 1] = 'updated_at'; rec[#rec + 1] = nows end
        end
        redis.call('PEXPIRE', nk, retention)
        local linked = ''
        if not reply then linked = link_chat(p, user) or '' end
        local wait = ''
        if lim and (reply or linked == chat) and (lim[5] <= 0 or now - created < lim[5]) then
          wait = tostring((gcra(lim[1], lim[3], lim[4], -1)))
        end
        local out = {chat, linked, wait}
        for _, v in ipairs(rec) do out[#out + 1] = v end
        return out
      end
    end
  end
  return false
end

-- limArgs returns claim's lim from the arguments a[i..i+5] (limit key, pause
-- key, interval µs, tolerance µs, max age ms, max wait µs or -1), or nil
-- when the key is empty.
local function limArgs(a, i)
  if a[i] == '' then return nil end
  return {a[i], a[i + 1], tonumber(a[i + 2]), tonumber(a[i + 3]), tonumber(a[i + 4]), tonumber(a[i + 5])}
end
`

// claimQueueScript. KEYS: sched, lease, leasetok, pending. ARGV: prefix,
// now ms, lease ms, token, retention ms, then limit key (empty for none),
// pause key, interval µs, tolerance µs, max age ms, max wait µs (-1 for
// none). Returns what claimFunc
// does (nil for false).
const claimQueueScript = claimFunc + `
return claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], tonumber(ARGV[2]), ARGV[2], tonumber(ARGV[3]), ARGV[4],
  ARGV[5], limArgs(ARGV, 6))
`

// settleFunc is the Lua function behind Settle. rec, backlog, sched, lease,
// leasetok and pending are keys, usp the summary key prefix (without the
// user). a holds the arguments: chat, token, id, now ms, kind, retention
// ms, next ms, message id, attempts, retries, last error, reason. It
// returns 1, or 0 when the lease was lost.
const settleFunc = leaseFollowLua + `
local function settle(rec, backlog, sched, lease, leasetok, usp, pending, a)
  local chat, id = a[1], a[3]
  chat, backlog = lease_chat(leasetok, sched, chat, a[2], backlog) -- follows a migration (migrate_redis.go)
  if not chat then return 0 end
  redis.call('ZREM', lease, chat)
  redis.call('HDEL', leasetok, chat)
  local function unqueue()
    if redis.call('LINDEX', backlog, 0) == id then redis.call('LPOP', backlog)
    else redis.call('LREM', backlog, 1, id) end
    redis.call('ZREM', pending, id)
  end
  local r = redis.call('HMGET', rec, 'user_id', 'next_part', 'nparts', 'message_ids', 'reply')
  if r[1] then
    local kind, final = a[5], nil
    if a[9] ~= '0' then redis.call('HINCRBY', rec, 'attempts', a[9]) end
    if a[10] ~= '0' then redis.call('HINCRBY', rec, 'retries', a[10]) end
    local set = {'updated_at', a[4]}
    if a[11] ~= '' then set[#set + 1] = 'last_error'; set[#set + 1] = a[11] end
    if kind == 'sent' then
      local ids = r[4] or ''
      if ids ~= '' then ids = ids .. ',' end
      local np = (tonumber(r[2]) or 0) + 1
      set[#set + 1] = 'message_ids'; set[#set + 1] = ids .. a[8]
      set[#set + 1] = 'next_part'; set[#set + 1] = tostring(np)
      set[#set + 1] = 'state'
      if np >= (tonumber(r[3]) or 1) then
        set[#set + 1] = '3'
        final = 'sent'
      else
        set[#set + 1] = '2'
      end
    elseif kind == 'fail' then
      set[#set + 1] = 'state'; set[#set + 1] = '4'
      set[#set + 1] = 'failure_reason'; set[#set + 1] = a[12]
      final = 'failed'
    elseif (r[2] or '0') == '0' then
      set[#set + 1] = 'state'; set[#set + 1] = '1'
    end
    redis.call('HSET', rec, unpack(set))
    if final == 'sent' then
      -- Drop the text once sent; text_len and text_sha256 stay (textdrop.go).
      redis.call('HDEL', rec, 'parts')
    end
    redis.call('PEXPIRE', rec, a[6])
    if final then unqueue() end
    if r[5] ~= '1' then -- a reply is in no summary
      local us = usp .. r[1]
      if final then
        redis.call('HINCRBY', us, 'queued', -1)
        redis.call('HINCRBY', us, final, 1)
      end
      redis.call('PEXPIRE', us, a[6])
    end
  else
    unqueue()
  end
  if redis.call('LLEN', backlog) > 0 then
    redis.call('ZADD', sched, a[7], chat)
  elseif tonumber(a[7]) > tonumber(a[4]) then
    -- The backlog is empty: remember when the chat may send again, so a
    -- notification enqueued before then waits for its pacing too.
    local p = string.sub(sched, 1, #sched - 6)
    redis.call('SET', p .. ':nb:' .. chat, a[7], 'PXAT', a[7])
  end
  return 1
end
`

// settleScript. KEYS: record, backlog, sched, lease, leasetok, summary
// prefix (without user), pending. ARGV: chat, token, id, now ms, kind,
// retention ms, next ms, message id, attempts, retries, last error,
// reason. Returns 1, or 0 when the lease was lost.
const settleScript = settleFunc + `
return settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV)
`

// settleClaimScript settles like settleScript, then claims like
// claimQueueScript. KEYS: as settleScript. ARGV: as settleScript, then
// prefix, lease ms, new token, claim retention ms, then the limit
// arguments of claimQueueScript. Returns {'0'} when the lease was lost,
// {'1'} when settled with nothing due, {'1', 'p', pause ms} when settled
// and paused, {'1', 'r', µs} when settled and throttled, or {'1', chat,
// linked chat, wait, record pairs...}.
const settleClaimScript = settleFunc + claimFunc + `
if settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV) == 0 then return {'0'} end
local c = claim(KEYS[3], KEYS[4], KEYS[5], KEYS[7], ARGV[13], tonumber(ARGV[4]), ARGV[4], tonumber(ARGV[14]), ARGV[15],
  ARGV[16], limArgs(ARGV, 17))
if not c then return {'1'} end
table.insert(c, 1, '1')
return c
`

// backlogScript. KEYS: pending. ARGV: prefix. Drops pending ids whose
// record expired from the head (at most 100 per call), then returns
// {count, oldest created ms or empty}.
const backlogScript = `
for _ = 1, 100 do
  local h = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #h == 0 then return {'0', ''} end
  if redis.call('EXISTS', ARGV[1] .. ':n:' .. h[1]) == 1 then
    return {tostring(redis.call('ZCARD', KEYS[1])), h[2]}
  end
  redis.call('ZREM', KEYS[1], h[1])
end
local h = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {tostring(redis.call('ZCARD', KEYS[1])), h[2] or ''}
`

func (q *RedisQueue) recordKey(id string) string { return q.prefix + ":n:" + id }
func (q *RedisQueue) idemKey(user, key string) string {
	return q.prefix + ":idem:" + idemKey(user, key)
}
func (q *RedisQueue) backlogKey(chat int64) string {
	return q.prefix + ":q:" + strconv.FormatInt(chat, 10)
}
func (q *RedisQueue) schedKey() string           { return q.prefix + ":sched" }
func (q *RedisQueue) leaseKey() string           { return q.prefix + ":lease" }
func (q *RedisQueue) leaseTokKey() string        { return q.prefix + ":leasetok" }
func (q *RedisQueue) pendingKey() string         { return q.prefix + ":pending" }
func (q *RedisQueue) summaryPrefix() string      { return q.prefix + ":us:" }
func (q *RedisQueue) summaryKey(u string) string { return q.summaryPrefix() + u }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Enqueue atomically stores n (State QUEUED) at the tail of its chat's
// backlog, schedules the chat unless it is scheduled or leased, remembers
// the idempotency key and counts it in the user's summary. When the key was
// used before, nothing is written and the earlier notification is returned
// with duplicate true (only ID is set when its record expired).
func (q *RedisQueue) Enqueue(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	return q.enqueueNotification(ctx, n, opts, false)
}

// EnqueueLinked is Enqueue to the chat n.UserID is linked to in the links
// of the queue's store, read in the same atomic step (n.ChatID is
// ignored; the returned notification carries the chat). When the user is
// not linked nothing is written and the error wraps delivery.ErrNotLinked
// and ErrNotFound.
func (q *RedisQueue) EnqueueLinked(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	return q.enqueueNotification(ctx, n, opts, true)
}

// enqueueItem is one notification of an enqueue batch: its keys (idem,
// record, backlog, summary) and arguments, as enqueueScript takes them.
type enqueueItem struct {
	keys [4]string
	args []any
}

// Enqueue batches: concurrent Notify calls share one script run. Two
// batches may run at once, so that one is built and answered while Redis
// runs the other.
const (
	enqueueBatchesRunning = 2
	enqueueBatchItems     = 64
)

// runEnqueue runs enqueueScript for items and returns each one's reply.
func (q *RedisQueue) runEnqueue(ctx context.Context, items []enqueueItem) ([]any, error) {
	keys := make([]string, 0, 3+4*len(items))
	keys = append(keys, q.schedKey(), q.leaseKey(), q.pendingKey())
	n := 1
	for _, it := range items {
		n += len(it.args)
	}
	args := make([]any, 0, n)
	args = append(args, q.prefix)
	for _, it := range items {
		keys = append(keys, it.keys[:]...)
		args = append(args, it.args...)
	}
	var cmd *redis.Cmd
	var waitErr error
	if q.owner.waitReplicas > 0 {
		cmd, waitErr = q.owner.evalWait(ctx, "enqueue", q.enqueue, keys, args...)
	} else {
		cmd = q.enqueue.Run(ctx, q.client, keys, args...)
	}
	res, err := cmd.Slice()
	if err != nil {
		return nil, unavailable("enqueue", err)
	}
	if len(res) != len(items) {
		return nil, unavailable("enqueue", fmt.Errorf("%d replies for %d notifications", len(res), len(items)))
	}
	if waitErr != nil { // the accepted ones are not acknowledged (wait_redis.go)
		for i, r := range res {
			if rr, _ := r.([]any); len(rr) > 0 && rr[0] == int64(1) {
				res[i] = waitErr
			}
		}
	}
	return res, nil
}

func (q *RedisQueue) enqueueNotification(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions, linked bool) (delivery.Notification, bool, error) {
	parts, err := json.Marshal(n.Parts)
	if err != nil {
		return delivery.Notification{}, false, fmt.Errorf("store: enqueue: encode parts: %w", err)
	}
	n = n.Clone()
	n.State = delivery.StateQueued
	n.UpdatedAt = n.CreatedAt
	created := strconv.FormatInt(n.CreatedAt.UnixMilli(), 10)
	// Without an idempotency key, the idem key is a placeholder that is
	// never touched, in the prefix's hash slot: Redis Cluster rejects a
	// script whose keys are in different slots ("" has a slot of its own).
	idem, idemTTL := q.prefix+":idem:", any("")
	if n.IdempotencyKey != "" {
		idem, idemTTL = q.idemKey(n.UserID, n.IdempotencyKey), ttlMillis(opts.IdempotencyTTL)
	}
	// With linked, the chat is read by the script and the backlog key
	// derived there; the backlog key is then a placeholder in the
	// prefix's slot.
	chat, backlog := strconv.FormatInt(n.ChatID, 10), ""
	if linked {
		chat, backlog = "", q.prefix+":q:"
	} else {
		backlog = q.backlogKey(n.ChatID)
	}
	fields := make([]any, 0, 20)
	fields = append(fields, "id", n.ID, "user_id", n.UserID, "parts", string(parts), "state", int(delivery.StateQueued),
		"created_at", created)
	// Fields at their zero value are left out (see the record's fields).
	if len(n.Parts) != 1 {
		fields = append(fields, "nparts", len(n.Parts))
	}
	if n.ParseMode != "" {
		fields = append(fields, "parse_mode", n.ParseMode)
	}
	if n.DisableNotification {
		fields = append(fields, "disable_notification", boolStr(true))
	}
	if n.PlainTextFallback {
		fields = append(fields, "plain_text_fallback", boolStr(true))
	}
	if n.IdempotencyKey != "" {
		fields = append(fields, "idem_key", n.IdempotencyKey)
	}
	kind := ""
	if n.Reply {
		fields = append(fields, "reply", boolStr(true))
		kind = "r"
	}
	n.TextLen, n.TextSHA256 = textDigest(n.Parts)
	fields = append(fields, "text_len", n.TextLen, "text_sha256", n.TextSHA256)
	args := append([]any{n.ID, chat, created, idemTTL, ttlMillis(opts.Retention), n.UserID, kind, len(fields)}, fields...)
	args = append(args, max(opts.MaxUserBacklog, 0), max(opts.MaxQueued, 0))
	item := enqueueItem{keys: [4]string{idem, q.recordKey(n.ID), backlog, q.summaryKey(n.UserID)}, args: args}
	reply, err := q.enqueueBatch.do(ctx, item)
	if err == nil {
		err, _ = reply.(error) // not acknowledged by enough replicas
	}
	if err != nil {
		return delivery.Notification{}, false, err
	}
	res, _ := reply.([]any)
	code := int64(-1)
	if len(res) > 0 {
		code, _ = res[0].(int64)
	}
	switch {
	case code == 1 && len(res) == 3:
		if linked {
			s, _ := res[2].(string)
			if n.ChatID, err = strconv.ParseInt(s, 10, 64); err != nil || n.ChatID == 0 {
				return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("unexpected linked chat %q", s))
			}
		}
		return n, false, nil
	case code == 2 && linked:
		return delivery.Notification{}, false, fmt.Errorf("store: link of user %q: %w: %w", n.UserID, delivery.ErrNotLinked, ErrNotFound)
	case code == 3 && len(res) == 2:
		return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("%v", res[1]))
	case code == 4 && len(res) == 2:
		return delivery.Notification{}, false, limitError(n.UserID, res[1], opts)
	case code != 0 || len(res) != 2:
		return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("unexpected script reply %v", res))
	}
	id, _ := res[1].(string)
	prev, err := q.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return delivery.Notification{ID: id}, true, nil
	}
	if err != nil {
		return delivery.Notification{}, false, err
	}
	return prev, true, nil
}

// newToken returns a random fencing token.
func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store: random token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// claimArgs returns the claim function's arguments after the prefix and
// now: lease ms, token, retention ms, then the limit's.
func (q *RedisQueue) claimArgs(tok string, opts delivery.ClaimOptions) ([]any, error) {
	args := []any{ttlMillis(opts.Lease), tok, ttlMillis(opts.Retention)}
	if opts.Limit.Rate <= 0 {
		return append(args, "", "", 0, 0, 0, -1), nil
	}
	T, tau, err := gcraParams(opts.Limit.Rate, opts.Limit.Burst)
	if err != nil {
		return nil, err
	}
	maxWait := int64(-1)
	if opts.MaxWait > 0 {
		maxWait = opts.MaxWait.Microseconds()
	}
	return append(args, limitKey(q.prefix, opts.Limit.Name), pauseKey(q.prefix), T, tau, opts.MaxAge.Milliseconds(),
		maxWait), nil
}

// Claim first returns chats whose lease expired before now to the schedule
// (the visibility timeout), then leases the due chat with the earliest
// schedule time for opts.Lease and marks its head notification SENDING.
// ok is false when no chat is due, or when opts.Limit is given and the
// global pause is in force (then the returned Claim's Paused says for how
// long). The claim reports the user's link as read in the same step
// (LinkedChat) and, with opts.Limit, the slot reserved (Reserved, Wait).
func (q *RedisQueue) Claim(ctx context.Context, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	tok, err := newToken()
	if err != nil {
		return delivery.Claim{}, false, err
	}
	rest, err := q.claimArgs(tok, opts)
	if err != nil {
		return delivery.Claim{}, false, fmt.Errorf("store: claim: %w", err)
	}
	args := append([]any{q.prefix, now.UnixMilli()}, rest...)
	res, err := q.claim.Run(ctx, q.client, []string{q.schedKey(), q.leaseKey(), q.leaseTokKey(), q.pendingKey()},
		args...).StringSlice()
	if errors.Is(err, redis.Nil) {
		return delivery.Claim{}, false, nil
	}
	if err != nil {
		return delivery.Claim{}, false, unavailable("claim", err)
	}
	c, ok, err := parseClaim(res, tok, now, opts.Lease)
	if err != nil {
		return delivery.Claim{}, false, unavailable("claim", err)
	}
	return c, ok, nil
}

// parseClaim decodes the claim function's reply: {'p', pause ms}, {'r',
// throttle µs} or {chat, linked chat or empty, wait µs or empty, record field/value
// pairs...}.
func parseClaim(res []string, tok string, now time.Time, lease time.Duration) (delivery.Claim, bool, error) {
	if len(res) == 2 && res[0] == "p" {
		ms, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt pause: %w", err)
		}
		return delivery.Claim{Paused: time.Duration(ms) * time.Millisecond}, false, nil
	}
	if len(res) == 2 && res[0] == "r" {
		us, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt throttle: %w", err)
		}
		return delivery.Claim{Throttled: max(time.Duration(us)*time.Microsecond, time.Microsecond)}, false, nil
	}
	if len(res) < 3 || len(res)%2 != 1 {
		return delivery.Claim{}, false, fmt.Errorf("unexpected script reply of %d items", len(res))
	}
	c := delivery.Claim{Token: tok, LeaseUntil: now.Add(time.Duration(ttlMillis(lease)) * time.Millisecond)}
	var err error
	if c.ChatID, err = strconv.ParseInt(res[0], 10, 64); err != nil {
		return delivery.Claim{}, false, fmt.Errorf("corrupt chat id: %w", err)
	}
	if res[1] != "" {
		if c.LinkedChat, err = strconv.ParseInt(res[1], 10, 64); err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt linked chat id: %w", err)
		}
	}
	if res[2] != "" {
		us, err := strconv.ParseInt(res[2], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt reservation: %w", err)
		}
		c.Reserved, c.Wait = true, time.Duration(us)*time.Microsecond
	}
	fields := make(map[string]string, len(res)/2)
	for i := 3; i+1 < len(res); i += 2 {
		fields[res[i]] = res[i+1]
	}
	if c.Notification, err = parseRecord(fields); err != nil {
		return delivery.Claim{}, false, err
	}
	return c, true, nil
}

// parseRecord decodes a record hash.
func parseRecord(f map[string]string) (delivery.Notification, error) {
	num := func(k string) int64 {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return v
	}
	n := delivery.Notification{
		ID:                  f["id"],
		UserID:              f["user_id"],
		ChatID:              num("chat_id"),
		ParseMode:           f["parse_mode"],
		DisableNotification: f["disable_notification"] == "1",
		PlainTextFallback:   f["plain_text_fallback"] == "1",
		Reply:               f["reply"] == "1",
		IdempotencyKey:      f["idem_key"],
		State:               delivery.NotificationState(num("state")),
		Attempts:            int(num("attempts")),
		Retries:             int(num("retries")),
		NextPart:            int(num("next_part")),
		LastError:           f["last_error"],
		FailureReason:       f["failure_reason"],
		CreatedAt:           time.UnixMilli(num("created_at")),
		UpdatedAt:           time.UnixMilli(num("created_at")),
	}
	if _, ok := f["updated_at"]; ok {
		n.UpdatedAt = time.UnixMilli(num("updated_at"))
	}
	if n.ID == "" {
		return delivery.Notification{}, errors.New("corrupt record: no id")
	}
	if err := parseParts(&n, f); err != nil {
		return delivery.Notification{}, err
	}
	if ids := f["message_ids"]; ids != "" {
		for _, s := range strings.Split(ids, ",") {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return delivery.Notification{}, fmt.Errorf("corrupt record %s: message ids: %w", n.ID, err)
			}
			n.MessageIDs = append(n.MessageIDs, v)
		}
	}
	return n, nil
}

// outcomeName is the settle script's name of kind.
func outcomeName(kind delivery.OutcomeKind) (string, bool) {
	switch kind {
	case delivery.OutcomePartSent:
		return "sent", true
	case delivery.OutcomeRetry:
		return "retry", true
	case delivery.OutcomeFail:
		return "fail", true
	case delivery.OutcomeRelease:
		return "release", true
	}
	return "", false
}

// settleArgs returns the keys and arguments of the settle function.
func (q *RedisQueue) settleArgs(c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) ([]string, []any, error) {
	kind, ok := outcomeName(o.Kind)
	if !ok {
		return nil, nil, fmt.Errorf("store: settle: unknown outcome kind %d", o.Kind)
	}
	keys := []string{q.recordKey(c.Notification.ID), q.backlogKey(c.ChatID), q.schedKey(), q.leaseKey(),
		q.leaseTokKey(), q.summaryPrefix(), q.pendingKey()}
	args := []any{strconv.FormatInt(c.ChatID, 10), c.Token, c.Notification.ID,
		now.UnixMilli(), kind, ttlMillis(retention), o.NextAt.UnixMilli(), o.MessageID, o.Attempts, o.Retries,
		o.LastError, o.Reason}
	return keys, args, nil
}

// Settle applies o to the claimed notification, releases the lease and
// reschedules the chat at o.NextAt if its backlog is not empty, atomically.
// It fails with ErrLeaseLost (changing nothing) when c's lease was taken
// over.
func (q *RedisQueue) Settle(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) error {
	keys, args, err := q.settleArgs(c, o, now, retention)
	if err != nil {
		return err
	}
	n, err := q.settle.Run(ctx, q.client, keys, args...).Int()
	if err != nil {
		return unavailable("settle", err)
	}
	if n == 0 {
		return fmt.Errorf("store: settle chat %d: %w", c.ChatID, delivery.ErrLeaseLost)
	}
	return nil
}

// SettleAndClaim settles c like Settle and then, in the same atomic step,
// claims the next due chat like Claim (at now, with opts). It fails with
// ErrLeaseLost, changing and claiming nothing, when c's lease was taken
// over; ok is false when it settled and claimed nothing (nothing due, or
// paused: see Claim). When it fails with ErrUnavailable the outcome may or
// may not have been recorded.
func (q *RedisQueue) SettleAndClaim(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	keys, args, err := q.settleArgs(c, o, now, opts.Retention)
	if err != nil {
		return delivery.Claim{}, false, err
	}
	tok, err := newToken()
	if err != nil {
		return delivery.Claim{}, false, err
	}
	rest, err := q.claimArgs(tok, opts)
	if err != nil {
		return delivery.Claim{}, false, fmt.Errorf("store: settle and claim: %w", err)
	}
	args = append(append(args, q.prefix), rest...)
	res, err := q.settleClaim.Run(ctx, q.client, keys, args...).StringSlice()
	if err != nil {
		return delivery.Claim{}, false, unavailable("settle and claim", err)
	}
	switch {
	case len(res) == 0:
		return delivery.Claim{}, false, unavailable("settle and claim", errors.New("empty script reply"))
	case res[0] == "0":
		return delivery.Claim{}, false, fmt.Errorf("store: settle chat %d: %w", c.ChatID, delivery.ErrLeaseLost)
	case len(res) == 1:
		return delivery.Claim{}, false, nil
	}
	next, ok, err := parseClaim(res[1:], tok, now, opts.Lease)
	if err != nil {
		// The outcome is recorded; only the next claim is unreadable (its
		// lease expires and another worker takes it over).
		return delivery.Claim{}, false, nil
	}
	return next, ok, nil
}

// Migrate atomically moves the claimed chat's links, whole backlog (in
// order, in front of newChat's backlog; the records' chat id set) and
// pacing to newChat, releases the lease and schedules newChat (see
// migrate_redis.go). The lease may have followed an earlier migration of
// the chat to newChat. It fails with ErrLeaseLost, changing nothing, when
// the lease was taken over.
func (q *RedisQueue) Migrate(ctx context.Context, c delivery.Claim, newChat int64, now time.Time) error {
	_, err := q.owner.migrateChat(ctx, c.ChatID, newChat, c.Token, now)
	return err
}

// NextDue returns the earliest time a chat becomes due (a schedule time or
// a lease expiry); ok is false when nothing is scheduled or leased.
func (q *RedisQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	pipe := q.client.Pipeline()
	s := pipe.ZRangeWithScores(ctx, q.schedKey(), 0, 0)
	l := pipe.ZRangeWithScores(ctx, q.leaseKey(), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return time.Time{}, false, unavailable("next due", err)
	}
	var best time.Time
	found := false
	for _, z := range append(s.Val(), l.Val()...) {
		at := time.UnixMilli(int64(z.Score))
		if !found || at.Before(best) {
			best, found = at, true
		}
	}
	return best, found, nil
}

// Backlog returns the number of notifications QUEUED or SENDING across all
// chats and the CreatedAt of the oldest of them (zero when none), in
// O(log n).
func (q *RedisQueue) Backlog(ctx context.Context) (int64, time.Time, error) {
	res, err := q.backlog.Run(ctx, q.client, []string{q.pendingKey()}, q.prefix).StringSlice()
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", err)
	}
	if len(res) != 2 {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("unexpected script reply %q", res))
	}
	depth, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("corrupt count: %w", err))
	}
	if depth == 0 || res[1] == "" {
		return depth, time.Time{}, nil
	}
	ms, err := strconv.ParseFloat(res[1], 64)
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("corrupt score: %w", err))
	}
	return depth, time.UnixMilli(int64(ms)), nil
}

// Get returns the notification id or ErrNotFound.
func (q *RedisQueue) Get(ctx context.Context, id string) (delivery.Notification, error) {
	f, err := q.client.HGetAll(ctx, q.recordKey(id)).Result()
	if err != nil {
		return delivery.Notification{}, unavailable("get notification", err)
	}
	if len(f) == 0 {
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	n, err := parseRecord(f)
	if err != nil {
		return delivery.Notification{}, unavailable("get notification", err)
	}
	return n, nil
}

// Summary returns the user's delivery summary (zero when none).
func (q *RedisQueue) Summary(ctx context.Context, userID string) (delivery.UserSummary, error) {
	v, err := q.client.HMGet(ctx, q.summaryKey(userID), "queued", "sent", "failed", "last").Result()
	if err != nil {
		return delivery.UserSummary{}, unavailable("summary", err)
	}
	str := func(x any) string { s, _ := x.(string); return s }
	num := func(x any) int64 { n, _ := strconv.ParseInt(str(x), 10, 64); return n }
	s := delivery.UserSummary{Queued: max(num(v[0]), 0), Sent: num(v[1]), Failed: num(v[2]), LastID: str(v[3])}
	if s.LastID == "" {
		return s, nil
	}
	r, err := q.client.HMGet(ctx, q.recordKey(s.LastID), "state", "updated_at", "last_error", "created_at").Result()
	if err != nil {
		return delivery.UserSummary{}, unavailable("summary", err)
	}
	if r[0] != nil {
		s.LastState = delivery.NotificationState(num(r[0]))
		updated := r[1]
		if updated == nil { // never changed since enqueue
			updated = r[3]
		}
		s.LastUpdatedAt = time.UnixMilli(num(updated))
		s.LastError = str(r[2])
	}
	return s, nil
}
