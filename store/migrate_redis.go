package store

// Group migration (a group upgraded to a supergroup gets a new chat id).
// One script, migrateChatScript, moves in one atomic step everything of the
// old chat to the new one: the users' links, the backlog (in order, in
// front of anything queued for the new chat; the records' chat_id set), the
// pacing (schedule entry and nb key: the new chat is not due before either
// chat was) and, when a worker holds the old chat's lease (a send in
// flight), the lease itself, fencing token and expiry unchanged. It runs
// for the migrate_to_chat_id update ([Redis.UpdateChatID]) and for the 400
// "migrated" answer of a send ([RedisQueue.Migrate]), whichever comes
// first; the second finds nothing to move.
//
// A moved lease leaves a marker <p>:mig:<old chat> (string: the new chat;
// PX migrationMarkerTTL) so that the worker's settle or migrate, which
// names the old chat, finds its lease on the new chat (leaseFollowLua) and
// settles there: the head is neither lost nor sent twice.

import (
	"context"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strconv"
	"time"
)

// migrationMarkerTTL is how long <p>:mig:<chat> is kept: far longer than
// any lease, so that a worker's settle always finds it.
const migrationMarkerTTL = 24 * time.Hour

// ErrMigrationBusy is returned by a group migration that cannot move a send
// in flight to the old chat because the new chat has one in flight too. It
// wraps [ErrUnavailable]: nothing changed and the caller retries (the
// update is delivered again; the worker retries its send).
var ErrMigrationBusy = fmt.Errorf("%w: both chats of a migration have a send in flight", ErrUnavailable)

// leaseFollowLua defines lease_chat for the settle scripts.
const leaseFollowLua = `
-- lease_chat returns the chat and backlog key where the lease with token
-- taken on chat is now: chat itself, or the chat it migrated to while the
-- lease was held (<p>:mig:<chat>); false when the lease was lost.
local function lease_chat(leasetok, sched, chat, token, backlog)
  if redis.call('HGET', leasetok, chat) == token then return chat, backlog end
  local p = string.sub(sched, 1, #sched - 6)
  local to = redis.call('GET', p .. ':mig:' .. chat)
  if to and redis.call('HGET', leasetok, to) == token then return to, p .. ':q:' .. to end
  return false
end
`

// migrateChatScript. KEYS: index bucket and set key of the old chat, then
// of the new chat, sched, lease, leasetok, old backlog, new backlog, old nb
// key, new nb key, migration marker of the old chat. ARGV: prefix, old
// chat, new chat, now ms, token ("" for the update: a lease held on the
// old chat moves to the new one; else the caller's lease, on the old chat
// or followed to the new one, which is released), marker TTL ms. Returns
// {'ok', moved user ids...}, {'lost'} (the caller's lease was taken over)
// or {'busy'} (both chats leased); nothing is written unless 'ok'.
const migrateChatScript = linkLua + `
local p, old, new, now, token = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local sched, lease, leasetok = KEYS[5], KEYS[6], KEYS[7]
local qold, qnew, nbold, nbnew, mig = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local from, held = old, nil
if old ~= new then
  if token ~= '' then
    if redis.call('HGET', leasetok, old) ~= token then
      if redis.call('GET', mig) == new and redis.call('HGET', leasetok, new) == token then
        from = new
      else
        return {'lost'}
      end
    end
  else
    local t = redis.call('HGET', leasetok, old)
    if t then
      if redis.call('HGET', leasetok, new) then return {'busy'} end
      held = {t, redis.call('ZSCORE', lease, old) or tostring(now)}
    end
  end
end
local out = {'ok'}
for _, user in ipairs(index_users(KEYS[1], KEYS[2], old)) do
  local lk = link_key(p, user)
  local v = redis.call('HGET', lk, user)
  if v and link_chat_of(v) == old then
    out[#out + 1] = user
    if old ~= new then
      redis.call('HSET', lk, user, new .. string.sub(v, #old + 1))
      index_add(KEYS[3], KEYS[4], new, user)
    end
  end
end
if old == new then return out end
index_clear(KEYS[1], KEYS[2], old)
if from == old then
  local ids = redis.call('LRANGE', qold, 0, -1)
  for i = #ids, 1, -1 do
    redis.call('LPUSH', qnew, ids[i])
    local nk = p .. ':n:' .. ids[i]
    if redis.call('EXISTS', nk) == 1 then redis.call('HSET', nk, 'chat_id', new) end
  end
  redis.call('DEL', qold)
end
if token ~= '' then
  redis.call('ZREM', lease, from)
  redis.call('HDEL', leasetok, from)
elseif held then
  redis.call('ZREM', lease, old)
  redis.call('HDEL', leasetok, old)
  redis.call('ZREM', sched, new)
  redis.call('ZADD', lease, held[2], new)
  redis.call('HSET', leasetok, new, held[1])
  redis.call('SET', mig, new, 'PX', ARGV[6])
end
-- Pacing: the new chat is due no earlier than either chat was.
local at = now
local function later(v)
  v = tonumber(v)
  if v and v > at then at = v end
end
later(redis.call('ZSCORE', sched, old))
later(redis.call('ZSCORE', sched, new))
local nbo, nbn = redis.call('GET', nbold), redis.call('GET', nbnew)
later(nbo)
later(nbn)
redis.call('ZREM', sched, old)
if nbo then
  if tonumber(nbo) > tonumber(nbn or '0') then redis.call('SET', nbnew, nbo, 'PXAT', nbo) end
  redis.call('DEL', nbold)
end
if redis.call('LLEN', qnew) > 0 and not redis.call('ZSCORE', lease, new) then
  redis.call('ZADD', sched, at, new)
end
return out
`

// migrateChat runs migrateChatScript on r's keys (links and queue share
// r's prefix) and returns the moved user ids.
func (r *Redis) migrateChat(ctx context.Context, oldID, newID int64, token string, now time.Time) ([]string, error) {
	o, n, p := strconv.FormatInt(oldID, 10), strconv.FormatInt(newID, 10), r.prefix
	keys := append(append(r.chatKeys(oldID), r.chatKeys(newID)...),
		p+":sched", p+":lease", p+":leasetok", p+":q:"+o, p+":q:"+n, p+":nb:"+o, p+":nb:"+n, p+":mig:"+o)
	res, err := r.migrate.Run(ctx, r.client, keys, r.prefix, o, n, now.UnixMilli(), token,
		migrationMarkerTTL.Milliseconds()).StringSlice()
	if err != nil {
		return nil, unavailable("migrate chat", err)
	}
	switch {
	case len(res) > 0 && res[0] == "ok":
		return append([]string{}, res[1:]...), nil
	case len(res) == 1 && res[0] == "lost":
		return nil, fmt.Errorf("store: migrate chat %d: %w", oldID, delivery.ErrLeaseLost)
	case len(res) == 1 && res[0] == "busy":
		return nil, fmt.Errorf("store: migrate chat %d to %d: %w", oldID, newID, ErrMigrationBusy)
	}
	return nil, unavailable("migrate chat", errors.New("unexpected script reply"))
}
