package store

// Redis key layout of the notification queue (<p> is the store's prefix):
//
//	<p>:n:<id>                  hash: the notification record (fields below); PX retention, refreshed on change
//	<p>:idem:<len>:<user>:<key> string: notification id for an idempotency key; PX idempotency TTL
//	<p>:q:<chat>                list: the chat's FIFO backlog of notification ids; no TTL
//	<p>:sched                   zset: chat → unix ms when the chat may send next (chats not leased)
//	<p>:lease                   zset: chat → unix ms when the chat's lease expires
//	<p>:leasetok                hash: chat → fencing token of the current lease
//	<p>:us:<user>               hash {queued, sent, failed, last}: per-user summary; PX retention
//
// Record fields: id, user_id, chat_id, parts (JSON array), nparts, parse_mode,
// disable_notification, plain_text_fallback, idem_key, state (1-4), attempts,
// retries, next_part, message_ids (comma-separated), last_error,
// failure_reason, created_at, updated_at (unix ms).
//
// Every operation is one Lua script, so enqueue (record + backlog + schedule
// + idempotency key + summary), claim and settle are atomic. A chat is in
// at most one of sched and lease.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

	enqueue *redis.Script
	claim   *redis.Script
	settle  *redis.Script
	migrate *redis.Script
}

// Queue returns the notification queue stored under r's prefix, on r's
// client (closing r closes it).
func (r *Redis) Queue() *RedisQueue {
	return &RedisQueue{
		client:  r.client,
		prefix:  r.prefix,
		enqueue: redis.NewScript(enqueueScript),
		claim:   redis.NewScript(claimQueueScript),
		settle:  redis.NewScript(settleScript),
		migrate: redis.NewScript(migrateScript),
	}
}

// enqueueScript. KEYS: idem key ("" when none), record, backlog, sched,
// lease, summary. ARGV: id, chat, created ms, retention ms, idem ttl ms,
// then record field/value pairs. Returns {1, id} or {0, existing id}.
const enqueueScript = `
if KEYS[1] ~= '' then
  local ex = redis.call('GET', KEYS[1])
  if ex then return {0, ex} end
end
local id, chat, now = ARGV[1], ARGV[2], ARGV[3]
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[3], id)
if not redis.call('ZSCORE', KEYS[5], chat) then
  redis.call('ZADD', KEYS[4], 'NX', now, chat)
end
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], id, 'PX', ARGV[5]) end
redis.call('HINCRBY', KEYS[6], 'queued', 1)
redis.call('HSET', KEYS[6], 'last', id)
redis.call('PEXPIRE', KEYS[6], ARGV[4])
return {1, id}
`

// claimQueueScript. KEYS: sched, lease, leasetok. ARGV: prefix, now ms,
// lease ms, token, retention ms. Returns nil or {chat, HGETALL of record...}.
const claimQueueScript = `
local p, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for _, chat in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], chat)
  redis.call('HDEL', KEYS[3], chat)
  redis.call('ZADD', KEYS[1], now, chat)
end
for _ = 1, 100 do
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  if #due == 0 then return false end
  local chat = due[1]
  local q = p .. ':q:' .. chat
  local id = redis.call('LINDEX', q, 0)
  if not id then
    redis.call('ZREM', KEYS[1], chat)
  else
    local nk = p .. ':n:' .. id
    if redis.call('EXISTS', nk) == 0 then
      redis.call('LPOP', q)
    else
      redis.call('ZREM', KEYS[1], chat)
      redis.call('ZADD', KEYS[2], now + lease, chat)
      redis.call('HSET', KEYS[3], chat, ARGV[4])
      if redis.call('HGET', nk, 'state') == '1' then
        redis.call('HSET', nk, 'state', '2', 'updated_at', ARGV[2])
      end
      redis.call('PEXPIRE', nk, ARGV[5])
      local out = {chat}
      for _, v in ipairs(redis.call('HGETALL', nk)) do out[#out + 1] = v end
      return out
    end
  end
end
return false
`

// settleScript. KEYS: record, backlog, sched, lease, leasetok, summary
// prefix (without user). ARGV: chat, token, id, now ms, kind, retention ms,
// next ms, message id, attempts, retries, last error, reason. Returns 1, or
// 0 when the lease was lost.
const settleScript = `
local chat, id = ARGV[1], ARGV[3]
if redis.call('HGET', KEYS[5], chat) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[4], chat)
redis.call('HDEL', KEYS[5], chat)
local function unqueue()
  if redis.call('LINDEX', KEYS[2], 0) == id then redis.call('LPOP', KEYS[2])
  else redis.call('LREM', KEYS[2], 1, id) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local kind = ARGV[5]
  local us = KEYS[6] .. redis.call('HGET', KEYS[1], 'user_id')
  redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[9])
  redis.call('HINCRBY', KEYS[1], 'retries', ARGV[10])
  if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'last_error', ARGV[11]) end
  if kind == 'sent' then
    local ids = redis.call('HGET', KEYS[1], 'message_ids') or ''
    if ids ~= '' then ids = ids .. ',' end
    redis.call('HSET', KEYS[1], 'message_ids', ids .. ARGV[8])
    local np = redis.call('HINCRBY', KEYS[1], 'next_part', 1)
    if np >= tonumber(redis.call('HGET', KEYS[1], 'nparts')) then
      redis.call('HSET', KEYS[1], 'state', '3')
      unqueue()
      redis.call('HINCRBY', us, 'queued', -1)
      redis.call('HINCRBY', us, 'sent', 1)
    else
      redis.call('HSET', KEYS[1], 'state', '2')
    end
  elseif kind == 'fail' then
    redis.call('HSET', KEYS[1], 'state', '4', 'failure_reason', ARGV[12])
    unqueue()
    redis.call('HINCRBY', us, 'queued', -1)
    redis.call('HINCRBY', us, 'failed', 1)
  else
    if redis.call('HGET', KEYS[1], 'next_part') == '0' then
      redis.call('HSET', KEYS[1], 'state', '1')
    end
  end
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  if redis.call('EXISTS', us) == 1 then redis.call('PEXPIRE', us, ARGV[6]) end
else
  unqueue()
end
if redis.call('LLEN', KEYS[2]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[7], chat)
end
return 1
`

// migrateScript. KEYS: old backlog, new backlog, sched, lease, leasetok.
// ARGV: prefix, old chat, new chat, token, now ms. Returns the number of
// moved ids, or -1 when the lease was lost.
const migrateScript = `
local p, old, new = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[5], old) ~= ARGV[4] then return -1 end
redis.call('ZREM', KEYS[4], old)
redis.call('HDEL', KEYS[5], old)
redis.call('ZREM', KEYS[3], old)
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #ids, 1, -1 do
  redis.call('LPUSH', KEYS[2], ids[i])
  local nk = p .. ':n:' .. ids[i]
  if redis.call('EXISTS', nk) == 1 then redis.call('HSET', nk, 'chat_id', new) end
end
redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[2]) > 0 and not redis.call('ZSCORE', KEYS[4], new) then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[5], new)
end
return #ids
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
func (q *RedisQueue) Enqueue(ctx context.Context, n Notification, opts EnqueueOptions) (Notification, bool, error) {
	parts, err := json.Marshal(n.Parts)
	if err != nil {
		return Notification{}, false, fmt.Errorf("store: enqueue: encode parts: %w", err)
	}
	n = n.clone()
	n.State = StateQueued
	n.UpdatedAt = n.CreatedAt
	created := strconv.FormatInt(n.CreatedAt.UnixMilli(), 10)
	idem := ""
	if n.IdempotencyKey != "" {
		idem = q.idemKey(n.UserID, n.IdempotencyKey)
	}
	keys := []string{idem, q.recordKey(n.ID), q.backlogKey(n.ChatID), q.schedKey(), q.leaseKey(), q.summaryKey(n.UserID)}
	args := []any{n.ID, strconv.FormatInt(n.ChatID, 10), created, ttlMillis(opts.Retention), ttlMillis(opts.IdempotencyTTL),
		"id", n.ID, "user_id", n.UserID, "chat_id", n.ChatID, "parts", string(parts), "nparts", len(n.Parts),
		"parse_mode", n.ParseMode, "disable_notification", boolStr(n.DisableNotification),
		"plain_text_fallback", boolStr(n.PlainTextFallback), "idem_key", n.IdempotencyKey,
		"state", int(StateQueued), "attempts", 0, "retries", 0, "next_part", 0, "message_ids", "",
		"last_error", "", "failure_reason", "", "created_at", created, "updated_at", created,
	}
	res, err := q.enqueue.Run(ctx, q.client, keys, args...).Slice()
	if err != nil {
		return Notification{}, false, unavailable("enqueue", err)
	}
	if len(res) != 2 {
		return Notification{}, false, unavailable("enqueue", fmt.Errorf("unexpected script reply %v", res))
	}
	if fresh, _ := res[0].(int64); fresh == 1 {
		return n, false, nil
	}
	id, _ := res[1].(string)
	prev, err := q.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Notification{ID: id}, true, nil
	}
	if err != nil {
		return Notification{}, false, err
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

// Claim first returns chats whose lease expired before now to the schedule
// (the visibility timeout), then leases the due chat with the earliest
// schedule time for lease and marks its head notification SENDING. ok is
// false when no chat is due.
func (q *RedisQueue) Claim(ctx context.Context, now time.Time, lease, retention time.Duration) (Claim, bool, error) {
	tok, err := newToken()
	if err != nil {
		return Claim{}, false, err
	}
	res, err := q.claim.Run(ctx, q.client, []string{q.schedKey(), q.leaseKey(), q.leaseTokKey()},
		q.prefix, now.UnixMilli(), ttlMillis(lease), tok, ttlMillis(retention)).StringSlice()
	if errors.Is(err, redis.Nil) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, unavailable("claim", err)
	}
	if len(res) < 1 || len(res)%2 != 1 {
		return Claim{}, false, unavailable("claim", fmt.Errorf("unexpected script reply of %d items", len(res)))
	}
	chat, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return Claim{}, false, unavailable("claim", fmt.Errorf("corrupt chat id: %w", err))
	}
	fields := make(map[string]string, len(res)/2)
	for i := 1; i+1 < len(res); i += 2 {
		fields[res[i]] = res[i+1]
	}
	n, err := parseRecord(fields)
	if err != nil {
		return Claim{}, false, unavailable("claim", err)
	}
	return Claim{ChatID: chat, Token: tok, Notification: n, LeaseUntil: now.Add(time.Duration(ttlMillis(lease)) * time.Millisecond)}, true, nil
}

// parseRecord decodes a record hash.
func parseRecord(f map[string]string) (Notification, error) {
	num := func(k string) int64 {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return v
	}
	n := Notification{
		ID:                  f["id"],
		UserID:              f["user_id"],
		ChatID:              num("chat_id"),
		ParseMode:           f["parse_mode"],
		DisableNotification: f["disable_notification"] == "1",
		PlainTextFallback:   f["plain_text_fallback"] == "1",
		IdempotencyKey:      f["idem_key"],
		State:               NotificationState(num("state")),
		Attempts:            int(num("attempts")),
		Retries:             int(num("retries")),
		NextPart:            int(num("next_part")),
		LastError:           f["last_error"],
		FailureReason:       f["failure_reason"],
		CreatedAt:           time.UnixMilli(num("created_at")),
		UpdatedAt:           time.UnixMilli(num("updated_at")),
	}
	if n.ID == "" {
		return Notification{}, errors.New("corrupt record: no id")
	}
	if err := json.Unmarshal([]byte(f["parts"]), &n.Parts); err != nil {
		return Notification{}, fmt.Errorf("corrupt record %s: parts: %w", n.ID, err)
	}
	if ids := f["message_ids"]; ids != "" {
		for _, s := range strings.Split(ids, ",") {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Notification{}, fmt.Errorf("corrupt record %s: message ids: %w", n.ID, err)
			}
			n.MessageIDs = append(n.MessageIDs, v)
		}
	}
	return n, nil
}

// outcomeName is the settle script's name of kind.
func outcomeName(kind OutcomeKind) (string, bool) {
	switch kind {
	case OutcomePartSent:
		return "sent", true
	case OutcomeRetry:
		return "retry", true
	case OutcomeFail:
		return "fail", true
	case OutcomeRelease:
		return "release", true
	}
	return "", false
}

// Settle applies o to the claimed notification, releases the lease and
// reschedules the chat at o.NextAt if its backlog is not empty, atomically.
// It fails with ErrLeaseLost (changing nothing) when c's lease was taken
// over.
func (q *RedisQueue) Settle(ctx context.Context, c Claim, o Outcome, now time.Time, retention time.Duration) error {
	kind, ok := outcomeName(o.Kind)
	if !ok {
		return fmt.Errorf("store: settle: unknown outcome kind %d", o.Kind)
	}
	keys := []string{q.recordKey(c.Notification.ID), q.backlogKey(c.ChatID), q.schedKey(), q.leaseKey(),
		q.leaseTokKey(), q.summaryPrefix()}
	n, err := q.settle.Run(ctx, q.client, keys, strconv.FormatInt(c.ChatID, 10), c.Token, c.Notification.ID,
		now.UnixMilli(), kind, ttlMillis(retention), o.NextAt.UnixMilli(), o.MessageID, o.Attempts, o.Retries,
		o.LastError, o.Reason).Int()
	if err != nil {
		return unavailable("settle", err)
	}
	if n == 0 {
		return fmt.Errorf("store: settle chat %d: %w", c.ChatID, ErrLeaseLost)
	}
	return nil
}

// Migrate atomically moves the claimed chat's whole backlog, in order, in
// front of newChat's backlog, sets the records' chat id, releases the lease
// and schedules newChat now (unless it is scheduled or leased).
func (q *RedisQueue) Migrate(ctx context.Context, c Claim, newChat int64, now time.Time) error {
	keys := []string{q.backlogKey(c.ChatID), q.backlogKey(newChat), q.schedKey(), q.leaseKey(), q.leaseTokKey()}
	n, err := q.migrate.Run(ctx, q.client, keys, q.prefix, strconv.FormatInt(c.ChatID, 10),
		strconv.FormatInt(newChat, 10), c.Token, now.UnixMilli()).Int()
	if err != nil {
		return unavailable("migrate", err)
	}
	if n < 0 {
		return fmt.Errorf("store: migrate chat %d: %w", c.ChatID, ErrLeaseLost)
	}
	return nil
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

// Get returns the notification id or ErrNotFound.
func (q *RedisQueue) Get(ctx context.Context, id string) (Notification, error) {
	f, err := q.client.HGetAll(ctx, q.recordKey(id)).Result()
	if err != nil {
		return Notification{}, unavailable("get notification", err)
	}
	if len(f) == 0 {
		return Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	n, err := parseRecord(f)
	if err != nil {
		return Notification{}, unavailable("get notification", err)
	}
	return n, nil
}

// Summary returns the user's delivery summary (zero when none).
func (q *RedisQueue) Summary(ctx context.Context, userID string) (UserSummary, error) {
	v, err := q.client.HMGet(ctx, q.summaryKey(userID), "queued", "sent", "failed", "last").Result()
	if err != nil {
		return UserSummary{}, unavailable("summary", err)
	}
	str := func(x any) string { s, _ := x.(string); return s }
	num := func(x any) int64 { n, _ := strconv.ParseInt(str(x), 10, 64); return n }
	s := UserSummary{Queued: max(num(v[0]), 0), Sent: num(v[1]), Failed: num(v[2]), LastID: str(v[3])}
	if s.LastID == "" {
		return s, nil
	}
	r, err := q.client.HMGet(ctx, q.recordKey(s.LastID), "state", "updated_at", "last_error").Result()
	if err != nil {
		return UserSummary{}, unavailable("summary", err)
	}
	if r[0] != nil {
		s.LastState = NotificationState(num(r[0]))
		s.LastUpdatedAt = time.UnixMilli(num(r[1]))
		s.LastError = str(r[2])
	}
	return s, nil
}
