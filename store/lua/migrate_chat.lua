-- migrate_chat.lua: moves everything of a chat to the chat a group
-- migration gave it, in one step (Redis.migrateChat, see migrate_redis.go):
-- the users' links, the backlog (in order, in front of the new chat's; the
-- records' chat_id set), the pacing and, for the update (no token), a lease
-- held on the old chat, leaving a migration marker for its settle.
-- uses: lib/keys.lua lib/link.lua
--
-- KEYS[1]  -> <p>:chats:<bucket of old>, the old chat's index bucket
-- KEYS[2]  -> <p>:chat:<old>:many, the old chat's set of users
-- KEYS[3]  -> <p>:chats:<bucket of new>
-- KEYS[4]  -> <p>:chat:<new>:many
-- KEYS[5]  -> <p>:sched
-- KEYS[6]  -> <p>:lease
-- KEYS[7]  -> <p>:leasetok
-- KEYS[8]  -> <p>:q:<old>, the old backlog
-- KEYS[9]  -> <p>:q:<new>, the new backlog
-- KEYS[10] -> <p>:nb:<old>, the old chat's pacing
-- KEYS[11] -> <p>:nb:<new>
-- KEYS[12] -> <p>:mig:<old>, the migration marker of the old chat
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> old chat id
-- ARGV[3] -> new chat id
-- ARGV[4] -> now, unix ms
-- ARGV[5] -> token: "" for the update (a lease held on the old chat moves to
--            the new one); else the caller's lease, on the old chat or
--            followed to the new one, which is released
-- ARGV[6] -> marker TTL ms
--
-- Returns {'ok', moved user ids...}, {'lost'} (the caller's lease was taken
-- over) or {'busy'} (both chats leased); nothing is written unless 'ok'.

local old_index, old_set, new_index, new_set = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sched, lease, leasetok = KEYS[5], KEYS[6], KEYS[7]
local qold, qnew, nbold, nbnew, mig = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local prefix = ARGV[1]
local old = ARGV[2]
local new = ARGV[3]
local now = tonumber(ARGV[4])
local token = ARGV[5]
local marker_ttl_ms = ARGV[6]

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
for _, user in ipairs(index_users(old_index, old_set, old)) do
  local lk = link_key(prefix, user)
  local v = redis.call('HGET', lk, user)
  if v and link_chat_of(v) == old then
    out[#out + 1] = user
    if old ~= new then
      redis.call('HSET', lk, user, new .. string.sub(v, #old + 1))
      index_add(new_index, new_set, new, user)
    end
  end
end
if old == new then return out end
index_clear(old_index, old_set, old)
if from == old then
  local ids = redis.call('LRANGE', qold, 0, -1)
  for i = #ids, 1, -1 do
    redis.call('LPUSH', qnew, ids[i])
    local nk = record_key(prefix, ids[i])
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
  redis.call('SET', mig, new, 'PX', marker_ttl_ms)
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
