-- bc_expand.lua: expands the next recipients of a running broadcast into
-- ordinary notification records in their chats' backlogs, as many as its
-- rate (a GCRA on the broadcast's tat, bursts of at most the window) and
-- its window (recipients expanded in the last 2 s and not yet settled)
-- allow, taking them off the list in the same step (RedisQueue.
-- ExpandBroadcast). A recipient not linked fails at once (not_linked, or
-- unlinked after Unlink).
-- uses: lib/keys.lua lib/op.lua lib/link.lua lib/events.lua lib/bc.lua
--
-- KEYS[1] -> <p>:bc:<id>
-- KEYS[2] -> <p>:bc:<id>:m
-- KEYS[3] -> <p>:bc:<id>:r
-- KEYS[4] -> <p>:bc:<id>:fl
-- KEYS[5] -> <p>:bcs
-- KEYS[6] -> <p>:sched
-- KEYS[7] -> <p>:lease
-- KEYS[8] -> <p>:pending
-- KEYS[9] -> <p>:events
--
-- ARGV[1] -> prefix <p>
-- ARGV[2] -> broadcast id
-- ARGV[3] -> now, unix ms
-- ARGV[4] -> window: most recipients expanded in the last 2 s and unsettled
-- ARGV[5] -> retention ms of a record
-- ARGV[6] -> the event log's approximate max length
-- ARGV[7] -> the event log's retention ms
--
-- Returns {queued, failed, wait ms, finished (1/0)}.

local meta, tmpl, list, flight, running = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sched, lease, pending = KEYS[6], KEYS[7], KEYS[8]
local prefix, id, nows = ARGV[1], ARGV[2], ARGV[3]
local now, window = tonumber(nows), tonumber(ARGV[4])
local v = redis.call('HMGET', meta, 'st', 'rate', 'tat', 'started')
local left = redis.call('LLEN', list)
if v[1] ~= '1' or left == 0 then
  redis.call('SREM', running, id)
  return {0, 0, 0, 1}
end
local room = window - redis.call('ZCOUNT', flight, now - 2000, '+inf')
if room <= 0 then return {0, 0, 50, 0} end
local interval = 1000 / tonumber(v[2])
local tat = tonumber(v[3]) or now
if tat > now then return {0, 0, math.ceil(tat - now), 0} end
local base = math.max(tat, now - window * interval)
local k = math.min(room, left, math.floor((now - base) / interval) + 1)
redis.call('HSET', meta, 'tat', string.format('%.3f', base + k * interval))
if not v[4] then redis.call('HSET', meta, 'started', nows) end
local users = redis.call('LRANGE', list, 0, k - 1)
redis.call('LTRIM', list, k, -1)
local seq = redis.call('HINCRBY', meta, 'x', k) - k
local fields = redis.call('HGETALL', tmpl)
local queued, failed = 0, 0
for i, user in ipairs(users) do
  local chat = link_chat(prefix, user)
  if not chat or not string.match(chat, '^-?%d+$') then
    local reason = 'not_linked'
    if redis.call('EXISTS', unlinked_key(prefix, user)) == 1 then reason = 'unlinked' end
    bc_fail(prefix, id, user, reason)
    failed = failed + 1
  else
    local nid = id .. '.' .. (seq + i)
    local rec = record_key(prefix, nid)
    redis.call('HSET', rec, 'id', nid, 'user_id', user, 'chat_id', chat, 'created_at', nows, 'bc', id,
      unpack(fields))
    redis.call('PEXPIRE', rec, ARGV[5])
    queue_op(prefix, sched, lease, chat, nid, now) -- into the backlog; the chat scheduled as enqueue.lua does
    redis.call('ZADD', pending, nows, nid)
    redis.call('ZADD', flight, nows, nid)
    queued = queued + 1
  end
end
local finished = 0
if redis.call('LLEN', list) == 0 then
  redis.call('SREM', running, id)
  finished = 1
end
bc_check_done(prefix, id, ev_log(KEYS[9], ARGV[6], ARGV[7]), nows)
return {queued, failed, 0, finished}
